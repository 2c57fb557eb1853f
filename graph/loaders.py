"""DataLoaders: one batched query per kind of object per operation, whatever the page size."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from strawberry.dataloader import DataLoader

from lending.partners import PartnerRecord, partner_records
from tortoise.functions import Count

from models import Lender, Loan, LoanStatus, Partner, Share


def _by_id(model) -> Callable:
    async def load(ids: list[int]) -> list:
        found = {row.id: row for row in await model.filter(id__in=ids)}
        return [found.get(i) for i in ids]

    return load


@dataclass
class Loaders:
    clock: Callable[[], datetime]
    loan: DataLoader[int, Loan | None] = field(init=False)
    partner: DataLoader[int, Partner | None] = field(init=False)
    lender: DataLoader[int, Lender | None] = field(init=False)
    partner_record: DataLoader[int, PartnerRecord] = field(init=False)
    loan_count: DataLoader[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.loan = DataLoader(_by_id(Loan))
        self.partner = DataLoader(_by_id(Partner))
        self.lender = DataLoader(_by_id(Lender))
        self.partner_record = DataLoader(self._records)
        self.loan_count = DataLoader(_loan_counts)

    async def _records(self, ids: list[int]) -> list[PartnerRecord]:
        records = await partner_records(list(ids), self.clock())
        return [records[i] for i in ids]


async def _loan_counts(lender_ids: list[int]) -> list[int]:
    counts = dict(
        await Share.filter(lender_id__in=lender_ids)
        .exclude(loan__status=LoanStatus.EXPIRED)
        .group_by("lender_id")
        .annotate(n=Count("id"))
        .values_list("lender_id", "n")
    )
    return [counts.get(i, 0) for i in lender_ids]
