"""The example operations `lendgraph seed-demo` prints and the README shows, with the ids of a fresh demo database.

tests/test_demo.py runs them as printed and checks that the README's copies are the same.
"""

import json
from dataclasses import dataclass
from typing import Any

from graph.ids import encode_id

EXAMPLE_REPAYMENT = "50.00"

BROWSE = """query Browse {
  loans(
    filter: {
      statuses: [FUNDRAISING]
      sectors: [AGRICULTURE, FOOD, RETAIL]
      genders: [FEMALE, MIXED_GROUP]
      riskRatingMin: "2.5"
    }
    sort: EXPIRING_SOON
    first: 5
  ) {
    totalCount
    edges {
      node {
        id name use sector gender amount remainingAmount lenderCount expiresAt
        country { isoCode name }
        partner { name riskRating defaultRate arrearsRate }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}"""

MY_PORTFOLIO = """query MyPortfolio {
  me {
    displayName
    balance
    portfolio {
      stats {
        loanCount lent outstanding repaid currencyLoss defaulted defaultRate arrearsRate
        bySector { key loanCount lent outstanding }
      }
      shares(first: 5) {
        totalCount
        edges { node { amount repaidAmount currencyLoss loan { name status country { name } } } }
      }
    }
  }
}"""

LEND = """mutation Lend($input: LendInput!) {
  lend(input: $input) {
    __typename
    ... on LendSuccess { loan { name fundedAmount remainingAmount status } share { amount } lender { balance } }
    ... on InsufficientCredit { needed available }
    ... on ExceedsRemaining { remaining }
    ... on UserError { code message }
  }
}"""

REPAY = """mutation Repay($input: PostRepaymentInput!) {
  postRepayment(input: $input) {
    __typename
    ... on PostRepaymentSuccess { amount lendersCredited loan { name status repaidAmount } }
    ... on UserError { code message }
  }
}"""


@dataclass(frozen=True)
class Example:
    title: str
    role: str  # whose token to send: "lender", "partner", or "" for none
    query: str
    variables: dict[str, Any] | None = None


def examples(lend_loan_id: int, repay_loan_id: int) -> list[Example]:
    """The example operations the summary prints (and the README shows), for these loans."""
    return [
        Example("Browse fundraising loans, soonest to expire first (no token needed)", "", BROWSE),
        Example("The demo lender's balance and portfolio", "lender", MY_PORTFOLIO),
        Example(
            "Lend 25.00 to a fundraising loan as the demo lender",
            "lender",
            LEND,
            {"input": {"loanId": encode_id("Loan", lend_loan_id), "amount": "25.00", "idempotencyKey": "try-lend-1"}},
        ),
        Example(
            "Post a repayment as the demo partner",
            "partner",
            REPAY,
            {
                "input": {
                    "loanId": encode_id("Loan", repay_loan_id),
                    "amount": EXAMPLE_REPAYMENT,
                    "idempotencyKey": "try-repay-1",
                }
            },
        ),
    ]


def example_lines(found: list[Example], tokens: dict[str, str]) -> list[str]:
    """The examples as the summary prints them: a numbered title, the operation, its variables and headers."""
    lines: list[str] = []
    for number, example in enumerate(found, 1):
        lines += ["", f"# {number}. {example.title}", example.query]
        if example.variables:
            lines += ["# Variables:", json.dumps(example.variables)]
        if example.role:
            lines += ["# Headers:", json.dumps({"Authorization": f"Bearer {tokens[example.role]}"})]
    return lines
