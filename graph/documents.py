"""Every request error is found before anything runs: the document parsed, one operation chosen, variables coerced.

Then a request that cannot run is a pre-execution error, over HTTP (a 400 with
application/graphql-response+json, graph/http.py) and over WebSocket (an
`error` message) alike, and nothing of it executes.
"""

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from graphql import (
    SKIP,
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    ValidationRule,
    VisitorAction,
    get_operation_ast,
    get_variable_values,
    parse,
)
from strawberry.extensions import SchemaExtension

from graph.limits import limits_of
from graph.strawberry_internals import graphql_core_schema

_parse = functools.lru_cache(maxsize=1024)(parse)


class CachedParse(SchemaExtension):
    """Parse each document once: clients send the same few over and over.

    In place of strawberry's ParserCache, which parses inside the hook and so raises a syntax error
    past strawberry's own handling: over WebSocket the operation then died with a logged traceback
    and the client got a bare `complete`. A document that fails to parse is left to strawberry,
    which parses it again and makes the error the request's (only successes are cached).
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            with contextlib.suppress(GraphQLError):  # strawberry parses again and reports the error itself
                context.graphql_document = _parse(context.query, **context.parse_options)
        yield


class OperationNameRequired(ValidationRule):
    """Several operations and no operationName: none is run (GraphQL's GetOperation is a request error)."""

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


class OneOperation(SchemaExtension):
    """Validate a request that names no operation with OperationNameRequired.

    strawberry runs a document's first operation when none is named, however many there are.
    """

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        # Before parsing, operation_name is the name the client sent, or None: strawberry falls back
        # to the document's first operation only once the document is parsed.
        if context.graphql_document is None and context.operation_name is None:
            context.validation_rules = (*context.validation_rules, OperationNameRequired)
        yield


class CoerceVariables(SchemaExtension):
    """Coerce the variables after validation, before execution: a bad variable is then a pre-execution error.

    Listed after OperationLimits, which validates (and in production, without "Did you mean"
    hints, coerces the variables itself); graphql-core would otherwise find a bad variable only
    once execution starts, and HTTP could not tell it from a failed execution.
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        limits = limits_of(context.context)
        already = limits is not None and limits.hide_suggestions  # OperationLimits coerced them
        document, variables = context.graphql_document, context.variables or {}
        if not context.pre_execution_errors and not already and document is not None and isinstance(variables, dict):
            operation = get_operation_ast(document, context.operation_name)
            if operation is not None:
                coerced = get_variable_values(
                    graphql_core_schema(context.schema), operation.variable_definitions or (), variables
                )
                if isinstance(coerced, list):
                    context.pre_execution_errors = coerced
        yield
