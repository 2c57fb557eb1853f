"""Documents: each text parsed once, and the rule that a document of several operations names one.

With these, every request error is found before anything runs (graph/pipeline.py): a request that
cannot run is a pre-execution error, over HTTP (a 400 with application/graphql-response+json,
graph/http.py) and over WebSocket (an `error` message) alike.
"""

import functools
from typing import Any

from graphql import SKIP, DocumentNode, GraphQLError, OperationDefinitionNode, ValidationRule, VisitorAction, parse


@functools.lru_cache(maxsize=1024)  # clients send the same few documents over and over; each entry holds its text
def parse_document(query: str, max_lexical_tokens: int) -> DocumentNode:
    """The document of `query`, parsed once per text; GraphQLError when it does not parse.

    graphql-core stops parsing beyond `max_lexical_tokens` names, punctuation and values (0: no limit).
    Only successes are cached: lru_cache keeps no exception.
    """
    return parse(query, max_tokens=max_lexical_tokens or None)


@functools.lru_cache(maxsize=1024)
def shared_text(query: str) -> str:
    """One copy of each document's text: the first one seen equal to `query` (kept by lru_cache as its
    answer). A subscription keeps its text as long as it runs, and thousands run the same few."""
    return query


class OperationNameRequired(ValidationRule):
    """Several operations and no operationName: none is run (GraphQL's GetOperation is a request error).

    strawberry runs a document's first operation when none is named, however many there are: this
    rule is added to validation whenever the client named none.
    """

    def enter_document(self, node: DocumentNode, *_args: Any) -> VisitorAction:
        operations = sum(isinstance(definition, OperationDefinitionNode) for definition in node.definitions)
        if operations > 1:
            self.report_error(
                GraphQLError(
                    "Must provide operation name if query contains multiple operations.",
                    extensions={"code": "OPERATION_NAME_REQUIRED"},
                )
            )
        return SKIP  # the rest of the document is other rules' business
