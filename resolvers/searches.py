"""Saved searches: keep a LoanFilter, and be alerted when a new listing matches it."""

from typing import Annotated

import strawberry

from graph.context import Info
from graph.ids import decode_id
from graph.permissions import IsLender, requires
from graph.types import errors as e
from graph.types.errors import returns_user_errors
from graph.types.loans import LoanFilterInput
from graph.types.searches import SavedSearchNode
from lending import searches
from lending.tokens import SEARCHES_WRITE


@strawberry.input
class SaveSearchInput:
    name: str = strawberry.field(description="Saving again under the same name replaces the search.")
    filter: LoanFilterInput
    alert: bool = True


@strawberry.type
class SaveSearchSuccess:
    saved_search: SavedSearchNode


SaveSearchResult = Annotated[SaveSearchSuccess | e.InvalidInput | e.Forbidden, strawberry.union("SaveSearchResult")]


@strawberry.input
class DeleteSavedSearchInput:
    id: strawberry.ID


@strawberry.type
class DeleteSavedSearchSuccess:
    deleted_id: strawberry.ID


DeleteSavedSearchResult = Annotated[
    DeleteSavedSearchSuccess | e.NotFound | e.Forbidden, strawberry.union("DeleteSavedSearchResult")
]


@strawberry.type
class SearchMutation:
    @strawberry.mutation(
        description="Save a loan search, optionally with alerts for new listings.",
        extensions=requires(IsLender(SEARCHES_WRITE)),
    )
    @returns_user_errors
    async def save_search(self, info: Info, input: SaveSearchInput) -> SaveSearchResult:
        lender_id = info.context.require_lender()
        search = await searches.save_search(
            lender_id, input.name, input.filter.to_domain(), input.alert, info.context.now()
        )
        return SaveSearchSuccess(saved_search=SavedSearchNode.from_model(search))

    @strawberry.mutation(extensions=requires(IsLender(SEARCHES_WRITE)))
    @returns_user_errors
    async def delete_saved_search(self, info: Info, input: DeleteSavedSearchInput) -> DeleteSavedSearchResult:
        lender_id = info.context.require_lender()
        await searches.delete_search(lender_id, decode_id(input.id, "SavedSearch"), info.context.now())
        return DeleteSavedSearchSuccess(deleted_id=input.id)
