"""The index that finds, for a new loan, the stored filters that may match it.

Saved searches and auto-lend rules are filed under the values of their
most selective dimension (LoanFilter.index_keys); a loan looks up its own
keys (loan_index_keys). The candidates are then judged by the full
predicate, LoanFilter.matches. With 100,000 filters a listing reads only
the few filed under its country, sector or gender, never all of them.
"""

from tortoise.expressions import Subquery
from tortoise.models import Model

from lending.filters import LoanFilter, loan_index_keys
from models import Loan


async def file_under(anchor: type[Model], owner_field: str, owner_id: int, loan_filter: LoanFilter) -> None:
    """(Re)file one filter in the index; call inside the transaction that saves it."""
    await anchor.filter(**{owner_field: owner_id}).delete()
    await anchor.bulk_create([anchor(**{owner_field: owner_id, "key": key}) for key in loan_filter.index_keys()])


def candidates(anchor: type[Model], owner_field: str, loan: Loan) -> Subquery:
    """The ids of the filters filed under any key of `loan` (a superset of those that match it),
    as a subquery: tens of thousands of ids never travel as bind parameters."""
    return Subquery(anchor.filter(key__in=loan_index_keys(loan)).values(owner_field))
