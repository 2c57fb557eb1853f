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


@strawberry.input(description="A search to save.")
class SaveSearchInput:
    name: str = strawberry.field(
        description="1 to 100 characters. Saving again under the same name replaces the search; a lender keeps at "
        "most 50."
    )
    filter: LoanFilterInput = strawberry.field(description="Which loans the search selects.")
    alert: bool = strawberry.field(default=True, description="Notify me of each new listing that matches.")


@strawberry.type(description="The search was saved.")
class SaveSearchSuccess:
    saved_search: SavedSearchNode = strawberry.field(description="The search as saved.")


SaveSearchResult = Annotated[
    SaveSearchSuccess | e.InvalidInput | e.Forbidden,
    strawberry.union("SaveSearchResult", description="saveSearch's answer; on failure nothing is saved."),
]


@strawberry.input(description="The saved search to delete.")
class DeleteSavedSearchInput:
    id: strawberry.ID = strawberry.field(description="The global id of one of your saved searches.")


@strawberry.type(description="The search was deleted.")
class DeleteSavedSearchSuccess:
    deleted_id: strawberry.ID = strawberry.field(description="The id of the deleted search, as sent.")


DeleteSavedSearchResult = Annotated[
    DeleteSavedSearchSuccess | e.NotFound | e.Forbidden,
    strawberry.union("DeleteSavedSearchResult", description="deleteSavedSearch's answer; on failure nothing changed."),
]


@strawberry.type
class SearchMutation:
    @strawberry.mutation(
        description="Save a loan search, optionally with alerts for new listings. Needs a lender token with the "
        "searches:write scope.",
        extensions=requires(IsLender(SEARCHES_WRITE)),
    )
    @returns_user_errors
    async def save_search(
        self, info: Info, input: Annotated[SaveSearchInput, strawberry.argument(description="The search.")]
    ) -> SaveSearchResult:
        lender_id = info.context.require_lender()
        search = await searches.save_search(
            lender_id, input.name, input.filter.to_domain(), input.alert, info.context.now()
        )
        return SaveSearchSuccess(saved_search=SavedSearchNode.from_model(search))

    @strawberry.mutation(
        description="Delete one of your saved searches; its alerts stop. Needs a lender token with the "
        "searches:write scope.",
        extensions=requires(IsLender(SEARCHES_WRITE)),
    )
    @returns_user_errors
    async def delete_saved_search(
        self, info: Info, input: Annotated[DeleteSavedSearchInput, strawberry.argument(description="The search.")]
    ) -> DeleteSavedSearchResult:
        lender_id = info.context.require_lender()
        await searches.delete_search(lender_id, decode_id(input.id, "SavedSearch"), info.context.now())
        return DeleteSavedSearchSuccess(deleted_id=input.id)
