"""Generated decimal strings, well-formed and malformed, for the tests of the amount format.

The format (README, "The API"): ASCII digits, an optional point and at most two decimals,
`[0-9]+(\\.[0-9]{1,2})?`. Everything else that Python's Decimal() would still read is here too.
"""

import unicodedata

from hypothesis import strategies as st

# Every character outside ASCII with a digit value: Arabic-Indic, Devanagari, fullwidth, superscripts, ...
NON_ASCII_DIGITS = [c for c in map(chr, range(0x80, 0x110000)) if unicodedata.digit(c, None) is not None]
# Whitespace (ASCII and Unicode), line breaks, NUL, a zero-width space and a byte-order mark.
SPACES = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x00", "\x85"]
SPACES += ["\u00a0", "\u2003", "\u2028", "\u3000", "\u200b", "\ufeff"]
SIGNS = ["+", "-", "\u2212", "--", "+-"]  # U+2212 is the minus sign
# The examples of the README and their neighbours (25 in Arabic-Indic digits, and in fullwidth ones).
KNOWN_BAD = [
    "25_00", "\u0662\u0665", "\uff12\uff15", "2.5e1", " 25.00", "25.000", "+25.00", "-25.00", "25.00\n", "NaN",
    "1e400", "",
]  # fmt: skip


def expected_cents(text: str) -> int:
    """The cents a well-formed string means, computed without Decimal."""
    whole, _, places = text.partition(".")
    return int(whole) * 100 + int(places.ljust(2, "0"))


def spellings(cents: int) -> list[str]:
    """Every well-formed way to write `cents` without leading zeros: 2500 -> 25, 25.0, 25.00."""
    whole, part = divmod(cents, 100)
    if part == 0:
        return [f"{whole}", f"{whole}.0", f"{whole}.00"]
    if part % 10 == 0:
        return [f"{whole}.{part // 10}", f"{whole}.{part:02d}"]
    return [f"{whole}.{part:02d}"]


def spelled(cents: st.SearchStrategy[int]) -> st.SearchStrategy[str]:
    """Well-formed strings for the drawn cents, in any spelling, some with leading zeros."""
    return st.builds(
        lambda zeros, spelling: "0" * zeros + spelling,
        st.integers(min_value=0, max_value=3),
        cents.flatmap(lambda c: st.sampled_from(spellings(c))),
    )


def _cased(word: str, upper: list[bool]) -> str:
    padded = upper + [False] * len(word)  # longer than the word: zip stops at its end
    return "".join(c.upper() if up else c for c, up in zip(word, padded, strict=False))


def _replace_one(text: str, index: int, char: str) -> str:
    index %= len(text)
    return text[:index] + char + text[index + 1 :]


DIGITS = st.from_regex(r"[0-9]{1,6}", fullmatch=True)
TWO_PLACES = st.from_regex(r"[0-9]{2}", fullmatch=True)
MALFORMED_STRINGS = st.one_of(
    # underscores, as Python's own number syntax allows them
    st.builds(lambda a, b: f"{a}_{b}", DIGITS, DIGITS),
    st.builds(lambda a, b, c: f"{a}_{b}.{c}", DIGITS, DIGITS, TWO_PLACES),
    # a digit of another script in place of an ASCII one, or only such digits
    st.builds(_replace_one, DIGITS, st.integers(min_value=0), st.sampled_from(NON_ASCII_DIGITS)),
    st.builds(lambda a, d, b: f"{a}.{d}{b}", DIGITS, st.sampled_from(NON_ASCII_DIGITS), st.sampled_from("0123456789")),
    st.text(st.sampled_from(NON_ASCII_DIGITS), min_size=1, max_size=4),
    # exponents
    st.builds(lambda a, e, n: f"{a}{e}{n}", DIGITS, st.sampled_from(["e", "E", "e+", "e-", "E+", "E-"]), DIGITS),
    # whitespace before or after, or both
    st.builds(lambda s, a, p: s + a + p, st.sampled_from(SPACES), DIGITS, st.sampled_from(["", ".00"])),
    st.builds(lambda a, s: a + s, DIGITS, st.sampled_from(SPACES)),
    st.builds(lambda s, a, t: s + a + t, st.sampled_from(SPACES), DIGITS, st.sampled_from(SPACES)),
    # signs, ASCII and the minus sign
    st.builds(lambda s, a: s + a, st.sampled_from(SIGNS), st.one_of(st.sampled_from(["0", "1", "25.00"]), DIGITS)),
    # three decimals or more
    st.builds(lambda a, b: f"{a}.{b}", DIGITS, st.from_regex(r"[0-9]{3,8}", fullmatch=True)),
    # a point first, last, alone or twice; commas as points or separators
    st.builds(lambda a: f".{a}", DIGITS),
    st.builds(lambda a: f"{a}.", DIGITS),
    st.builds(lambda a, b: f"{a}.{b}.0", DIGITS, DIGITS),
    st.builds(lambda a, b: f"{a},{b}", DIGITS, DIGITS),
    # NaN, sNaN and Infinity in any case, with or without a sign
    st.builds(
        lambda sign, word, upper: sign + _cased(word, upper),
        st.sampled_from(["", "+", "-"]),
        st.sampled_from(["nan", "snan", "inf", "infinity"]),
        st.lists(st.booleans(), max_size=8),
    ),
    st.sampled_from([*KNOWN_BAD, ".", "..", "0x19", "0b1", "1/2", "\u00bd", "25.00\x00", "Ⅻ", "①"]),
)
