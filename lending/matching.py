"""An exact in-memory index of LoanFilters: which of them a loan passes, without judging each one.

Saved searches and auto-lend rules are LoanFilters; a new listing must find
the few thousand of 100,000 that it passes. The index answers with
LoanFilter.matches's answer exactly, and never runs it: after Whang et al.,
"Indexing Boolean Expressions" (VLDB 2009), a filter is a conjunction over
the loan's attributes, so each attribute keeps, for each value, the bitmap
(a roaring bitmap, pyroaring) of the filters that accept that value, those
that do not constrain the attribute included. A loan's answer is the
intersection of one bitmap per attribute: country, sector, gender, status,
the partner's risk rating and the term.

- Named values (countries, sectors, genders, statuses): the filters that name
  the value, with those that name none.
- Ranges (risk rating min/max, maximum term): small finite domains. The
  bitmap of a value is the union of the filters whose range holds it, made
  at the first loan with that value, then kept current as filters come and go.
- Keywords: a filter passes when each of its keywords appears inside the
  loan's name, use or description (LoanFilter.matches: substrings, ASCII
  case folded). The words of all filters that occur in the loan's texts are
  found first; then every distinct keyword set wholly among them passes
  (its filters' bitmap). A set is looked at only when one of its words
  occurs: never one by one per filter.

Filter ids are the bitmaps' members (saved search or rule ids). Each change
may carry a version (the outbox event id that reported it): a change older
than one already applied to that id is ignored, so the same change heard
twice, or out of order, leaves the newest.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any

from pyroaring import BitMap

from lending.filters import TEXT_FIELDS, LoanFilter, fold_case
from models import Loan, LoanStatus

Value = Any  # an attribute's value as LoanFilter.matches compares it (an enum's string, a country code, an int)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


class _Named:
    """An attribute whose filters name the values they accept (none named: any value)."""

    def __init__(self) -> None:
        self.free = BitMap()  # the filters that name no value
        self.named: defaultdict[Value, BitMap] = defaultdict(BitMap)
        self.accepting: dict[Value, BitMap] = {}  # free | named[value], made at the first loan with the value

    def add(self, ids: BitMap, values: Iterable[Value]) -> None:
        values = {_plain(v) for v in values}
        if not values:
            self.free |= ids
            for bitmap in self.accepting.values():
                bitmap |= ids
        for value in values:
            self.named[value] |= ids
            if value in self.accepting:
                self.accepting[value] |= ids

    def remove(self, ids: BitMap, values: Iterable[Value]) -> None:
        values = {_plain(v) for v in values}
        if not values:
            self.free -= ids
            for bitmap in self.accepting.values():
                bitmap -= ids
        for value in values:
            self.named[value] -= ids
            if value in self.accepting:
                self.accepting[value] -= ids

    def of(self, value: Value) -> BitMap:
        value = _plain(value)
        found = self.accepting.get(value)
        if found is None:
            found = self.accepting[value] = self.free | self.named[value] if value in self.named else self.free.copy()
        return found


Bounds = tuple[int | None, int | None]  # lowest and highest accepted value; None: unbounded


def _holds(bounds: Bounds, value: int) -> bool:
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


class _Ranged:
    """An integer attribute whose filters accept a range of it (the partner's risk rating, the term)."""

    def __init__(self) -> None:
        self.by_bounds: defaultdict[Bounds, BitMap] = defaultdict(BitMap)  # (None, None): unconstrained
        self.accepting: dict[int, BitMap] = {}

    def add(self, ids: BitMap, bounds: Bounds) -> None:
        self.by_bounds[bounds] |= ids
        for value, bitmap in self.accepting.items():
            if _holds(bounds, value):
                bitmap |= ids

    def remove(self, ids: BitMap, bounds: Bounds) -> None:
        self.by_bounds[bounds] -= ids
        for value, bitmap in self.accepting.items():
            if _holds(bounds, value):
                bitmap -= ids

    def of(self, value: int) -> BitMap:
        found = self.accepting.get(value)
        if found is None:
            found = BitMap.union(BitMap(), *(b for bounds, b in self.by_bounds.items() if _holds(bounds, value)))
            self.accepting[value] = found
        return found


class _Words:
    """The keywords: a filter passes when every one of its words is inside one of the loan's texts."""

    def __init__(self) -> None:
        self.free = BitMap()  # the filters without keywords
        self.by_set: dict[frozenset[str], BitMap] = {}
        self.sets_of: defaultdict[str, set[frozenset[str]]] = defaultdict(set)  # word -> the sets holding it
        self.lengths: defaultdict[int, set[str]] = defaultdict(set)  # the words, by length

    def add(self, ids: BitMap, words: frozenset[str]) -> None:
        if not words:
            self.free |= ids
            return
        if words not in self.by_set:
            self.by_set[words] = BitMap()
            for word in words:
                self.sets_of[word].add(words)
                self.lengths[len(word)].add(word)
        self.by_set[words] |= ids

    def remove(self, ids: BitMap, words: frozenset[str]) -> None:
        if not words:
            self.free -= ids
            return
        bitmap = self.by_set[words]
        bitmap -= ids
        if not bitmap:  # the last filter with this set: forget it, and its words that no other set holds
            del self.by_set[words]
            for word in words:
                self.sets_of[word].discard(words)
                if not self.sets_of[word]:
                    del self.sets_of[word]
                    self.lengths[len(word)].discard(word)
                    if not self.lengths[len(word)]:
                        del self.lengths[len(word)]

    def found_in(self, texts: list[str]) -> set[str]:
        """The filters' words that occur inside one of `texts` (already folded)."""
        size = sum(len(text) for text in texts)
        # Either ask each word (`in`, a fast search in C), or look every slice of a known length up: the
        # cheaper of the two for this many words and this much text.
        if len(self.sets_of) * (len(texts) + size // 64) <= size * len(self.lengths):
            return {word for word in self.sets_of if any(word in text for text in texts)}
        found: set[str] = set()
        for length, words in self.lengths.items():
            for text in texts:
                found |= words.intersection(text[i : i + length] for i in range(len(text) - length + 1))
        return found

    def of(self, texts: list[str]) -> BitMap:
        if not self.by_set:
            return self.free
        found = self.found_in(texts)
        passing = {words for word in found for words in self.sets_of[word] if words <= found}
        return BitMap.union(self.free, *(self.by_set[words] for words in passing))


def words_of(loan_filter: LoanFilter) -> frozenset[str]:
    """A filter's keywords as its clauses compare them (folded; an empty one is inside every text)."""
    return frozenset(word for word in map(fold_case, loan_filter.keywords) if word)


class FilterIndex:
    """The filters by id; `match` gives the ids of those a loan passes, exactly as LoanFilter.matches."""

    def __init__(self) -> None:
        self.filters: dict[int, LoanFilter] = {}
        self.versions: dict[int, int] = {}  # the version of each id's last change heard with one
        self._interned: dict[LoanFilter, LoanFilter] = {}  # many ids share a filter: keep one copy
        self._countries = _Named()
        self._sectors = _Named()
        self._genders = _Named()
        self._statuses = _Named()
        self._risk = _Ranged()
        self._term = _Ranged()
        self._words = _Words()

    def __len__(self) -> int:
        return len(self.filters)

    def put(self, filter_id: int, loan_filter: LoanFilter | None, version: int | None = None) -> None:
        """Make `filter_id` mean `loan_filter` (None: no filter), unless a later `version` of it was put."""
        if version is not None:
            if version <= self.versions.get(filter_id, 0):
                return
            self.versions[filter_id] = version
        old = self.filters.pop(filter_id, None)
        if old is not None:
            self._file(BitMap([filter_id]), old, remove=True)
        if loan_filter is not None:
            loan_filter = self._interned.setdefault(loan_filter, loan_filter)
            self.filters[filter_id] = loan_filter
            self._file(BitMap([filter_id]), loan_filter, remove=False)

    @classmethod
    def of(cls, filters: Iterable[tuple[int, LoanFilter]]) -> "FilterIndex":
        """An index of these (id, filter) pairs (ids distinct), each attribute filed once per distinct key of it."""
        index = cls()
        ids_of: defaultdict[LoanFilter, list[int]] = defaultdict(list)
        for filter_id, loan_filter in filters:
            ids_of[loan_filter].append(filter_id)
        for loan_filter, ids in ids_of.items():
            index._interned[loan_filter] = loan_filter
            index.filters.update(dict.fromkeys(ids, loan_filter))
        for attribute, key_of in index._attributes():
            grouped: defaultdict[Any, list[int]] = defaultdict(list)
            for loan_filter, ids in ids_of.items():
                grouped[key_of(loan_filter)].extend(ids)
            for key, ids in grouped.items():
                attribute.add(BitMap(ids), key)
        return index

    def _attributes(self) -> list[tuple[Any, Callable[[LoanFilter], Any]]]:
        """Each attribute, and what of a filter it files."""
        return [
            (self._countries, lambda f: f.countries),
            (self._sectors, lambda f: f.sectors),
            (self._genders, lambda f: f.genders),
            (self._statuses, lambda f: f.statuses),
            (self._risk, lambda f: (f.risk_min_tenths, f.risk_max_tenths)),
            (self._term, lambda f: (None, f.max_term_months)),
            (self._words, words_of),
        ]

    def _file(self, ids: BitMap, loan_filter: LoanFilter, *, remove: bool) -> None:
        for attribute, key_of in self._attributes():
            (attribute.remove if remove else attribute.add)(ids, key_of(loan_filter))

    def match(self, loan: Loan, risk_tenths: int, status: LoanStatus | None = None) -> BitMap:
        """The ids of the filters that `loan` (of a partner with `risk_tenths`) passes; `status` as in matches."""
        parts = [
            self._countries.of(loan.country_code),
            self._sectors.of(loan.sector),
            self._genders.of(loan.gender),
            self._statuses.of(status if status is not None else loan.status),
            self._risk.of(risk_tenths),
            self._term.of(loan.term_months),
        ]
        parts.sort(key=len)  # the smallest first: every intersection after it is cheaper
        found = parts[0].intersection(*parts[1:])
        if found and self._words.by_set:
            found &= self._words.of([fold_case(getattr(loan, field)) for field in TEXT_FIELDS])
        return found
