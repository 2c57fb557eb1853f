"""The documents the suite sends: fragments that reach every private field, and each surface's operations."""

import json
import re

from graph.schema import schema
from graph.strawberry_internals import graphql_core_schema
from tests.security.access_control.private import PEEK, PRIVATE_LENDER_FIELDS

GQL = graphql_core_schema(schema)

FRAGMENTS = {
    "Owned": """fragment Owned on Node { __typename id
        ... on Share { amount repaidAmount currencyLoss createdAt loan { id name } }
        ... on Transaction { kind amount createdAt }
        ... on Notification { message createdAt readAt }
        ... on SavedSearch { name alert createdAt filter { countries sectors keywords } }
        ... on ApiToken { name scopes createdAt revokedAt } }""",
    "Profile": "fragment Profile on Lender { __typename id displayName memberSince loanCount "
    + " ".join(selection for _, selection in PRIVATE_LENDER_FIELDS.values())
    + " }",
    "Peek": "fragment Peek on Lender { __typename id displayName loanCount " + " ".join(PEEK.values()) + " }",
    "Funding": """fragment Funding on Loan { __typename id name status amount fundedAmount remainingAmount lenderCount
        partner { id name }
        lenders(first: 5) { totalCount pageInfo { hasNextPage } edges { cursor node { ...Peek } } }
        allocations { __typename amount matched createdAt lender { ...Peek } } }""",
    "PublicNode": """fragment PublicNode on Node {
        ... on Loan { name status }
        ... on Partner { name riskRating }
        ... on Lender { ...Profile } }""",
    "Preview": """fragment Preview on AutoLendPreviewResult { __typename ... on UserError { code message }
        ... on AutoLendPreview { total note loans { amount loan { id name
            lenders(first: 5) { edges { node { ...Peek } } } } } } }""",
    "StreamLenders": """fragment StreamLenders on Loan {
        lenders(first: 5) { edges { node { __typename id displayName balance } } } }""",
}


def with_fragments(document: str) -> str:
    """The document followed by every fragment it spreads, transitively (and no other)."""
    needed: list[str] = []
    pending = [document]
    while pending:
        for name in re.findall(r"\.\.\.([A-Z]\w*)", pending.pop()):
            if name not in needed:
                needed.append(name)
                pending.append(FRAGMENTS[name])
    return "\n".join([document, *(FRAGMENTS[name] for name in needed)])


PREVIEWS = with_fragments(
    """query($input: AutoLendRuleInput) {
         preview: autoLendPreview(input: $input) { ...Preview }
         backtest: autoLendBacktest(days: 30, input: $input) { ...Preview } }"""
)


def nodes_document(ids: list[str]) -> str:
    """One `node(id:)` per global id, aliased n0, n1, ... (keep it to 10: aliases are limited)."""
    fields = " ".join(
        f"n{i}: node(id: {json.dumps(gid)}) {{ __typename id ...Owned ...PublicNode }}" for i, gid in enumerate(ids)
    )
    return with_fragments("{ " + fields + " }")


def result_document(field: str, success: str = "") -> str:
    """Mutation `field` with its $input (of the type the schema gives), answering as `result`."""
    input_type = GQL.mutation_type.fields[field].args["input"].type  # e.g. LendInput!
    return f"""mutation($input: {input_type}) {{ result: {field}(input: $input) {{
        __typename ... on UserError {{ code message }} {success} }} }}"""


# Mutations that take the id of something, each tried on someone else's thing (see CROSS_OWNER).
DELETE_SEARCH = result_document("deleteSavedSearch", "... on DeleteSavedSearchSuccess { deletedId }")
REVOKE = result_document("revokeApiToken", "... on RevokeApiTokenSuccess { apiToken { id } }")
MARK_READ = result_document("markNotificationsRead", "... on MarkNotificationsReadSuccess { marked unreadCount }")
REPAY = result_document("postRepayment", "... on PostRepaymentSuccess { amount }")
DEFAULT = result_document("markDefault", "... on MarkDefaultSuccess { loan { id status } }")
LIST = result_document("listLoan", "... on ListLoanSuccess { loan { id } }")
LEND_ = result_document("lend", "... on LendSuccess { share { id } }")

# Every mutation whose payload reaches private types, done by its rightful caller with everything selected.
OWN_PAYLOADS = {
    field: with_fragments(result_document(field, success))
    for field, success in {
        "registerLender": "... on RegisterLenderSuccess { token lender { ...Profile } }",
        "deposit": "... on DepositSuccess { lender { ...Profile } transaction { ...Owned } }",
        "withdraw": "... on WithdrawSuccess { lender { ...Profile } transaction { ...Owned } }",
        "lend": "... on LendSuccess { loan { ...Funding } share { ...Owned } lender { ...Profile } }",
        "saveSearch": "... on SaveSearchSuccess { savedSearch { ...Owned } }",
        "setAutoLendRule": (
            "... on AutoLendRuleSuccess { rule { enabled amountPerLoan keepBalance trigger criteria { sectors } } }"
        ),
        "createApiToken": "... on CreateApiTokenSuccess { token apiToken { ...Owned } }",
        "revokeApiToken": "... on RevokeApiTokenSuccess { apiToken { ...Owned } }",
        "listLoan": "... on ListLoanSuccess { loan { ...Funding } }",
        "postRepayment": "... on PostRepaymentSuccess { amount lendersCredited loan { ...Funding } }",
        "markDefault": "... on MarkDefaultSuccess { loan { ...Funding } }",
    }.items()
}

MY_EVENTS = with_fragments(
    """subscription($after: String) { myEvents(after: $after) { __typename eventId occurredAt
         ... on RepaymentCredited { amount principal currencyLoss loan { ...Funding } }
         ... on LoanFunded { loan { id name } }
         ... on LoanExpired { refunded loan { id name } }
         ... on LoanRepaid { loan { id name } }
         ... on LoanDefaulted { loan { id name } }
         ... on NotificationCreated { notification { ...Owned } }
         ... on NotificationsRead { marked unreadCount notificationIds } } }"""
)
# Every kind of event a lender's stream carries; the myEvents test makes Ada receive each one.
MY_EVENT_KINDS = {
    "RepaymentCredited", "LoanFunded", "LoanExpired", "LoanRepaid", "LoanDefaulted", "NotificationCreated",
    "NotificationsRead",
}  # fmt: skip

PROGRESS_FIELDS = "eventId occurredAt kind amountAdded fundedAmount remainingAmount lenderCount status"
# Selections of a loan inside a public stream that read viewer-dependent data, one subscription each:
# the server executes an event once per distinct selection and shares the result (graph/execution.py).
STREAM_SELECTIONS: dict[str, str] = {
    **{
        f"lenders.{field}": f"lenders(first: 5) {{ edges {{ node {{ __typename id displayName {selection} }} }} }}"
        for field, selection in PEEK.items()
    },
    "lenders.balance in a named fragment": "...StreamLenders",
    "allocations.lender": "allocations { __typename amount lender { __typename id displayName } }",
}


def progress_document(selection: str) -> str:
    return with_fragments(
        f"""subscription($loan: ID!, $after: String) {{ loanProgress(loanId: $loan, after: $after) {{
              {PROGRESS_FIELDS} loan {{ __typename id name {selection} }} }} }}"""
    )


def listed_document(selection: str) -> str:
    return with_fragments(
        f"""subscription {{ loanListed(filter: {{sectors: [HEALTH]}}, after: "0") {{
              eventId occurredAt loan {{ __typename id name {selection} }} }} }}"""
    )


# The arrangements of the world.
SET_RULE = result_document("setAutoLendRule")
SAVE_SEARCH = result_document("saveSearch")
CREATE_TOKEN = result_document("createApiToken", "... on CreateApiTokenSuccess { token apiToken { id } }")
