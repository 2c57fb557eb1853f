"""The schema: per-area Query and Mutation classes merged into one root."""

from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry import relay
from strawberry.tools import merge_types
from strawberry.types import get_object_definition

from graph.context import Info
from graph.execution import SharingExecutor
from graph.extensions import OperationSteps
from graph.ids import find_node
from graph.input_builders import build_inputs_directly
from graph.permissions import VIEWER_DEPENDENT, ForbiddenAsResult, viewer_fields
from graph.pipeline import Schema
from graph.types.decimals import DecimalScalar
from graph.types.events import LENDER_EVENT_TYPES, NotificationNode
from graph.types.lenders import LenderNode, ShareNode, TransactionNode
from graph.types.loans import LoanNode, PartnerNode
from graph.types.searches import SavedSearchNode
from graph.types.tokens import ApiTokenNode
from resolvers.accounts import AccountMutation
from resolvers.autolend import AutoLendMutation, AutoLendQuery
from resolvers.lenders import LenderQuery
from resolvers.loans import LoanMutation, LoanQuery
from resolvers.notifications import NotificationMutation
from resolvers.partners import PartnerQuery
from resolvers.rate_limits import RateLimitQuery
from resolvers.searches import SearchMutation
from resolvers.tokens import TokenMutation
from subscriptions.resolvers import Subscription


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global id; null if you may not see it.", metadata=VIEWER_DEPENDENT)
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The ID of the object.")],
    ) -> relay.Node | None:
        return await find_node(info, id)


Query = merge_types("Query", (LoanQuery, LenderQuery, PartnerQuery, AutoLendQuery, NodeQuery, RateLimitQuery))
Mutation = merge_types(
    "Mutation", (AccountMutation, LoanMutation, SearchMutation, AutoLendMutation, TokenMutation, NotificationMutation)
)
# merge_types takes no description: the merged roots' are set on their definitions, before the schema is built.
get_object_definition(Query, strict=True).description = (
    "What may be read. Loans, partners and lenders' public profiles need no token; a lender's own fields answer "
    "that lender alone (Authorization: Bearer <token>), with the scope each names. Every request counts against "
    "the rate limits (rateLimit). By default an operation is refused before it runs (QUERY_TOO_COSTLY, "
    "QUERY_TOO_DEEP, TOO_MANY_ALIASES) when it may load more than 10,000 objects (each object field counts once "
    "per item of the lists above it: `first` for a connection, 10 for another list), nests more than 15 fields "
    "deep or uses more than 15 aliases; a query is stopped after 10 seconds (QUERY_TIMEOUT)."
)
get_object_definition(Mutation, strict=True).description = (
    "What may be changed. Each mutation answers a union of its success and the UserErrors that can happen to it; "
    "a refused mutation changes nothing. Money mutations take an idempotencyKey: sent again with it, they run once."
)

# graph/pipeline.py: an operation's steps, run straight through over HTTP; errors logged as one
# bounded line (graph/errorlog.py).
schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    execution_context_class=SharingExecutor,
    scalar_overrides={Decimal: DecimalScalar},  # strict decimal strings (graph/types/decimals.py)
    # A permission's refusal is the typed Forbidden of the result union (graph/permissions.py).
    exception_handlers=[ForbiddenAsResult()],
    types=[
        LoanNode,
        PartnerNode,
        LenderNode,
        ShareNode,
        TransactionNode,
        NotificationNode,
        SavedSearchNode,
        ApiTokenNode,
        *LENDER_EVENT_TYPES,
    ],
    # Over WebSocket strawberry runs the operation and this extension the pipeline's steps.
    extensions=[OperationSteps],
    # Batched requests (a JSON array of operations) stay off: `batching_config` is not set, so
    # strawberry answers 400 "Batching is not enabled" (tests/security/test_batching.py).
)
# Each input object built by a function made for its type (graph/input_builders.py).
build_inputs_directly(schema)

# The fields whose value depends on who asks, read off the schema once (graph/permissions.py):
# a shared subscription result that selects one is never reused for another viewer.
VIEWER_FIELDS = viewer_fields(schema)
