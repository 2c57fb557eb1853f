"""Schema extensions."""

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from lending.errors import LendingError


class DomainErrorCodes(SchemaExtension):
    """Give errors raised by the domain in queries (a bad cursor, say) their code in `extensions`."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in (result.errors or []) if result else []:
            if isinstance(error.original_error, LendingError):
                error.extensions = {**(error.extensions or {}), "code": error.original_error.code}
