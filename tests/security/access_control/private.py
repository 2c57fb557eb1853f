"""What is private, and to whom: a lender's private fields and node types, with the scope that reads them."""

from graph.permissions import CanManageTokens, CanReadPortfolio
from lending.tokens import PORTFOLIO_READ, TOKENS_MANAGE

PUBLIC_LENDER_FIELDS = {"id", "displayName", "memberSince", "loanCount"}
# Each private Lender field: the scope a lender's own token needs to read it, and how the suite selects it.
PRIVATE_LENDER_FIELDS: dict[str, tuple[str, str]] = {
    "email": (PORTFOLIO_READ, "email"),
    "balance": (PORTFOLIO_READ, "balance"),
    "portfolio": (
        PORTFOLIO_READ,
        (
            "portfolio { stats { loanCount lent outstanding repaid currencyLoss defaulted defaultRate arrearsRate "
            "byCountry { key loanCount lent outstanding } bySector { key lent } byGender { key lent } } "
            "shares(first: 20) { totalCount edges { cursor node { ...Owned } } } }"
        ),
    ),
    "transactions": (PORTFOLIO_READ, "transactions(first: 20) { totalCount edges { cursor node { ...Owned } } }"),
    "notifications": (PORTFOLIO_READ, "notifications(first: 20) { totalCount edges { cursor node { ...Owned } } }"),
    "savedSearches": (PORTFOLIO_READ, "savedSearches { ...Owned }"),
    "autoLendRule": (
        PORTFOLIO_READ,
        (
            "autoLendRule { enabled amountPerLoan keepBalance trigger idleDays pauseUntil waitingSince "
            "criteria { sectors keywords } }"
        ),
    ),
    "apiTokens": (TOKENS_MANAGE, "apiTokens { ...Owned }"),
}
# The same fields, selected lightly and without fragments: inside lists (where query cost multiplies),
# and one subscription each in the shared-execution test.
PEEK: dict[str, str] = {
    "email": "email",
    "balance": "balance",
    "portfolio": "portfolio { stats { lent } }",
    "transactions": "transactions(first: 1) { totalCount }",
    "notifications": "notifications(first: 1) { totalCount }",
    "savedSearches": "savedSearches { name }",
    "autoLendRule": "autoLendRule { amountPerLoan }",
    "apiTokens": "apiTokens { name }",
}
PERMISSION_SCOPE = {CanReadPortfolio: PORTFOLIO_READ, CanManageTokens: TOKENS_MANAGE}

PUBLIC_NODE_TYPES = {"Loan", "Partner", "Lender"}
# Node types that belong to one lender: node(id) answers null to anyone else (and to the
# lender's own tokens that lack the scope, as the Lender field that lists them does).
PRIVATE_NODE_TYPES = {
    "Share": PORTFOLIO_READ,
    "Transaction": PORTFOLIO_READ,
    "Notification": PORTFOLIO_READ,
    "SavedSearch": PORTFOLIO_READ,
    "ApiToken": TOKENS_MANAGE,  # Lender.apiTokens needs tokens:manage; node(id) must not be a way around it
}
# Types whose every appearance in the schema must be reached by some document of this suite.
PRIVATE_TYPES = {
    "Lender",
    "Portfolio",
    "PortfolioStats",
    "AutoLendRule",
    "Allocation",
    "AutoLendPreview",
    "Node",
    "LenderEvent",
}

# The public live streams: every field is reviewed here; a new one must be judged before it is added.
PUBLIC_STREAM_FIELDS = {
    "LoanProgressEvent": {
        "eventId", "occurredAt", "kind", "amountAdded", "fundedAmount", "remainingAmount", "lenderCount", "status",
        "loan",
    },
    "LoanListedEvent": {"eventId", "occurredAt", "loan"},
}  # fmt: skip
