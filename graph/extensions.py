"""Schema extensions."""

from collections.abc import AsyncIterator, Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from lending.errors import LendingError


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
