"""Schema extensions."""

import logging
import uuid
from collections.abc import AsyncIterator, Iterator

from graphql import GraphQLError

from strawberry.extensions import SchemaExtension
from strawberry.relay.types import GlobalIDValueError
from strawberry.types.graphql import OperationType

from lending.errors import LendingError

log = logging.getLogger("lendgraph.errors")


class DomainErrorCodes(SchemaExtension):
    """Give errors raised by the domain in queries (a bad cursor, say) their code in `extensions`."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in (result.errors or []) if result else []:
            if isinstance(error.original_error, LendingError):
                error.extensions = {**(error.extensions or {}), "code": error.original_error.code}


class AnnounceEvents(SchemaExtension):
    """After a mutation, wake every process's hub: the mutation's events are committed by now."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if self.execution_context.operation_type is OperationType.MUTATION and hasattr(context, "hub"):
            await context.hub.bus.announce()


class MaskUnexpectedErrors(SchemaExtension):
    """Unexpected exceptions reach the client as "Internal error" with an id that is in the log.

    Expected failures keep their message: domain errors, GraphQL validation
    errors and malformed global ids.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if not result or not result.errors:
            return
        result.errors = [self._masked(error) for error in result.errors]

    @staticmethod
    def _masked(error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, (LendingError, GraphQLError, GlobalIDValueError)):
            return error
        error_id = uuid.uuid4().hex[:12]
        log.error("internal error %s at %s", error_id, error.path, exc_info=original)
        return GraphQLError(
            "Internal error", error.nodes, path=error.path, extensions={"code": "INTERNAL", "errorId": error_id}
        )
