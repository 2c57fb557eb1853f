"""Values for the fuzz: hostile ones of each scalar a mutation input can hold, plausible ones by field name."""

import base64
from datetime import UTC, timedelta, timezone
from typing import Any

from hypothesis import strategies as st
from strawberry.relay import GlobalID

from graph.schema import schema
from graph.strawberry_internals import graphql_core_schema
from lending.tokens import SCOPES
from tests.clock import FakeClock
from tests.security.fuzz.world import World

GQL = graphql_core_schema(schema)
NODE_TYPES = sorted(t.name for t in GQL.get_possible_types(GQL.get_type("Node")))


class RawJSON(str):
    """Text put into the request body as is: a JSON number no Python value can be dumped as."""

    def __repr__(self) -> str:
        return f"RawJSON({str(self)[:40]!r}{'...' if len(self) > 40 else ''} ({len(self)} chars))"


# Characters that break naive code, one class per branch: controls (NUL among them), lone
# surrogates (valid JSON, not encodable as UTF-8), format characters (bidi overrides, zero-width,
# the BOM), combining marks, private use and unassigned code points, and a few chosen by hand.
NOW = FakeClock().now  # the fake clock's start: "now" for every request of the fuzz
ODD_CHARS = st.one_of(
    st.characters(categories=["Cs"]),
    st.characters(categories=["Cc"]),
    st.characters(categories=["Cf", "Zl", "Zp"]),
    st.characters(categories=["Mn", "Me", "Nd"]),
    st.characters(categories=["Co", "Cn"]),
    st.sampled_from(["\x00", "\u202e", "\ufeff", "\uffff", "\U0001f4b8", "\u0130", "\u00df", "'", '"', "\\", "%", "_"]),
)
ANY_CHAR = st.one_of(st.characters(), ODD_CHARS)
WORDS = st.text(st.characters(categories=["L", "Nd"]), min_size=1, max_size=12)


def sprinkle(head: str, odd: str, tail: str) -> str:
    return head + odd + tail


def repeat(char: str, count: int) -> str:
    return char * count


def copies(value: Any, count: int) -> list:
    return [value] * count


def email(local: str, domain: str) -> str:
    return f"{local}@{domain}.org"


def offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


def from_now(seconds: int, tz: timezone) -> str:
    return (NOW + timedelta(seconds=seconds)).astimezone(tz).isoformat()


LONG_STRINGS = st.builds(
    repeat,
    st.sampled_from(["x", " ", "\u00e9", "\U0001f4b8", "\x00", "a@b.c", "25"]),
    st.sampled_from([51, 101, 201, 255, 256, 501, 1001, 4000, 10_001]),
)
TEXTS = st.one_of(
    # One odd character inside an otherwise plausible value: it gets past "required" and length checks.
    st.builds(sprinkle, WORDS, ODD_CHARS, st.text(st.characters(categories=["L"]), max_size=4)),
    st.text(ANY_CHAR, max_size=20),
    st.text(max_size=20),
    LONG_STRINGS,
    st.sampled_from(
        ["", " ", "\t\n", "null", "0", "-1", "1e400", "NaN", "true", "<script>", "' OR 1=1 --", "%00", "${jndi:x}"]
    ),
)

# fmt: off
EDGE_DECIMALS = [
    "0", "-0", "0.00", "-0.00", "0.001", "0.01", "0.005", "25", "25.0", "25.00", "25.000", "24.99", "25.01",
    "-25.00", "1.00", "10.00", "100", "1000000.00", "1000000.01", "50000.00", "50025", "10000.00", "10000.25",
    "1e2", "2.5E+1", "1e400", "1E+999999", "1e-999999", "-1e400", "1E-7", "NaN", "-NaN", "sNaN", "-sNaN",
    "Infinity", "-Infinity", "inf", "-inf", "nan", " 25.00", "25.00 ", "+25", "25,00", "0x19", "1_000",
    "\u0662\u0665", "\uff12\uff15", "", " ", "25.00\x00", "25..0", "1" + "0" * 26 + ".001", "9" * 100,
    "0." + "0" * 100 + "1", "1" + "0" * 5000, "25." + "0" * 5000, "12345678901234567890123456789.01",
]
EDGE_DATETIMES = [
    "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59.999999+00:00", "9999-12-31T24:00:00", "9999-12-31T24:00:00Z",
    "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00Z", "2026-03-03", "2026-03-03T12:00:00Z", "20260303T120000Z",
    "2026-03-03T12:00:00", "2026-03-03T12:00:00+25:00", "2026-02-30T00:00:00Z", "2026-03-03T12:00:00.123456789Z",
    "2026-W10-2T12:00Z", "2026-03-03T12:00:00+00:00[Europe/Paris]", "tomorrow", "", "now", "2026-13-01T00:00:00Z",
    "+12026-03-03T00:00:00Z", "2026-03-03T12:00:00\x00Z",
]
# The edges of SMALLINT, INTEGER and BIGINT columns, and of the API's own ranges.
EDGE_INTS = [
    0, -1, 1, 12, 120, 121, 365, 366, 32767, 32768, -32769, 65536, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, 10**30,
]
# fmt: on
RAW_NUMBERS = st.sampled_from(
    [
        RawJSON("9" * 5000),
        RawJSON("-" + "9" * 4301),
        RawJSON("1e999"),
        RawJSON("-1e999"),
        RawJSON("1e-999"),
        RawJSON("2.50e1"),
        RawJSON("25.000000000000000000000000000000001"),
        RawJSON("-0"),
    ]
)
JSON_NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -0.0, 25, 25.0, 25.5, 0.1, 1e16, 1e308, 2**31, 2**53 + 1, 2**63, 2**64]),
    RAW_NUMBERS,
)
DECIMALS = st.one_of(
    st.sampled_from(EDGE_DECIMALS),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(min_value=0, max_value=40).flatmap(
        lambda places: st.decimals(min_value=-(10**7), max_value=10**7, places=places).map(str)
    ),
    JSON_NUMBERS,
)
INTS = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.sampled_from(EDGE_INTS),
    st.sampled_from(["12", "1e3", 12.0, 12.5, float("nan"), float("inf"), True]),
    RAW_NUMBERS,
)
BOOLEANS = st.one_of(st.booleans(), st.sampled_from(["true", "false", 0, 1, "", None]))

OFFSETS = st.builds(offset, st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1))
NEAR_NOW = st.builds(
    from_now,
    st.integers(min_value=-86400 * 10, max_value=86400 * 400),
    st.one_of(st.just(UTC), OFFSETS),
)
DATETIMES = st.one_of(
    NEAR_NOW,
    st.sampled_from(EDGE_DATETIMES),
    st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), OFFSETS, st.timezones())).map(lambda d: d.isoformat()),
    st.integers(min_value=-(2**40), max_value=2**40),  # epoch seconds, not ISO
    TEXTS,
)
DATES = st.one_of(
    st.dates().map(str), st.sampled_from(["2026-02-30", "0000-01-01", "99999-01-01", "2026-3-3", ""]), TEXTS
)

JSON_LEAVES = st.one_of(st.none(), st.booleans(), JSON_NUMBERS, TEXTS)
ANY_JSON = st.recursive(
    JSON_LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)


def encoded_id(type_name: str, node_id: str) -> str:
    return str(GlobalID(type_name, node_id))


def hostile_ids(world: World) -> st.SearchStrategy:
    """Global ids of other types, of odd or huge numbers, and garbage that is no global id at all."""
    type_names = st.one_of(
        st.sampled_from(NODE_TYPES),
        st.sampled_from(["", "loan", "Loan ", "Nope", "Loan:1", "Node"]),
        st.text(max_size=8),
    )
    node_ids = st.one_of(
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.sampled_from(
            [
                "0",
                "-1",
                "01",
                " 1",
                "1 ",
                "+1",
                "1_0",
                "\u0661",
                "2147483647",
                "2147483648",
                "1e3",
                "0x1",
                "",
                "9" * 5000,
            ]
        ),
        st.text(max_size=10),
    )
    return st.one_of(
        st.builds(encoded_id, type_names, node_ids),
        st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode()),  # not UTF-8, no colon, ...
        st.text(ANY_CHAR, max_size=12).map(lambda t: base64.b64encode(t.encode("utf-8", "surrogatepass")).decode()),
        st.sampled_from(world.all_ids()).map(lambda gid: gid.rstrip("=")),  # padding dropped
        st.sampled_from(world.all_ids()).map(lambda gid: gid + "\x00"),
        st.sampled_from(world.all_ids()).map(lambda gid: " " + gid),
        TEXTS,
        st.integers(min_value=-(2**63), max_value=2**63),  # an ID may be sent as a JSON integer
        st.sampled_from([1.5, float("nan"), True, RawJSON("9" * 5000)]),
    )


def scalar_values(world: World) -> dict[str, st.SearchStrategy]:
    """Hostile values of each scalar a mutation input can hold; a new scalar needs an entry here."""
    return {
        "String": TEXTS,
        "ID": st.one_of(st.sampled_from(world.all_ids()), hostile_ids(world)),
        "Int": INTS,
        "Float": JSON_NUMBERS,
        "Boolean": BOOLEANS,
        "Decimal": DECIMALS,
        "DateTime": DATETIMES,
        "Date": DATES,
    }


GOOD_AMOUNTS = st.sampled_from(["25.00", "50.00", "25", "100.00", "1.00", "10.00", "0.01", "75.00", "1000.00"])
COUNTRY_CODES = st.sampled_from(["KE", "UG", "ke", " KE ", "US", "XX", "KEN", ""])


def good_values(world: World) -> dict[str, st.SearchStrategy]:
    """Plausible values by field name: they get the fuzz past the first checks to the deeper ones."""
    loans = st.sampled_from(world.ids["Loan"])
    return {
        "loanId": loans,
        "partnerId": st.sampled_from(world.ids["Partner"]),
        "amount": GOOD_AMOUNTS,
        "currencyLoss": st.sampled_from(["0.00", "0.01", "1.00", "5.00", "0"]),
        "amountPerLoan": GOOD_AMOUNTS,
        "keepBalance": st.sampled_from(["0.00", "25.00", "4000.00", "0"]),
        "riskRatingMin": st.sampled_from(["0.5", "1.0", "3.5", "5.0", "5.5", "0.3", "2.25"]),
        "riskRatingMax": st.sampled_from(["0.5", "1.0", "3.5", "5.0", "5.5", "0.3", "2.25"]),
        "idempotencyKey": st.one_of(
            st.sampled_from(["k1", "k2", "k3"]),
            st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=100),
        ),
        "termMonths": st.integers(min_value=0, max_value=130),
        "maxTermMonths": st.integers(min_value=-1, max_value=130),
        "idleDays": st.integers(min_value=-1, max_value=370),
        "expiresAt": NEAR_NOW,
        "pauseUntil": st.one_of(NEAR_NOW, st.sampled_from(EDGE_DATETIMES[:5])),
        "countryIsoCode": COUNTRY_CODES,
        "countries": st.lists(COUNTRY_CODES, max_size=5),
        "keywords": st.lists(WORDS, max_size=12),
        "scopes": st.lists(st.sampled_from([*SCOPES, "admin", "LEND", "lend "]), max_size=6),
        "email": st.builds(email, WORDS, WORDS),
        "displayName": WORDS,
        "name": WORDS,
        "use": WORDS,
        "description": st.text(max_size=50),
        "currency": st.sampled_from(["USD", "KES", "usd", "US", "ÉUR", "U$D", " KES "]),
        "alert": st.booleans(),
        "enabled": st.booleans(),
    }
