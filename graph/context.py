"""The typed context every resolver receives, and `Info`, the type of their `info` argument."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from graph.limits import Limits
from graph.limits.rate import RateLimiter
from graph.loaders import Loaders
from lending.errors import Forbidden
from lending.tokens import SignIn, Viewer
from models import Loan
from subscriptions.hub import Hub

if TYPE_CHECKING:  # graph/execution.py imports this module: the executor runs with a Context
    from graph.execution import SharedResults
    from graph.response_cache import ResponseCache


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | None  # None over WebSocket
    viewer: Viewer | None
    clock: Callable[[], datetime]
    hub: Hub
    shared: SharedResults
    limits: Limits  # the application's limits on operations, its rate limiter among them
    connection_params: dict[str, Any] | None = None  # a WebSocket's connection_init payload
    responses: ResponseCache | None = None  # answers to public reads over HTTP (None: none are kept)
    signed_in: SignIn | None = None  # what the token lookup of this HTTP request read (graph/auth.py)
    loaders: Loaders = field(init=False)
    _read_at_sign_in: SignIn | None = field(init=False, default=None)  # what a query may answer from

    def __post_init__(self) -> None:
        # Per operation: loaders must never outlive the request that filled them.
        self.loaders = Loaders(self.clock)

    def fresh_loaders(self, loan: Loan | None = None) -> None:
        """New loaders for the next event of a long-lived subscription, primed with what it carries."""
        self.loaders = Loaders(self.clock, carried=loan)

    def now(self) -> datetime:
        return self.clock()

    def answer_from_sign_in(self, reading: bool) -> None:
        """Let a query answer from what the request's token lookup read: the signed-in lender's row and
        credit, read by this same request a moment before. A mutation reads them again after it writes."""
        found, self.signed_in = self.signed_in, None
        if not reading or found is None or found.lender is None:
            return
        self._read_at_sign_in = found
        self.loaders.lender.prime(found.lender.id, found.lender)

    def known_balance(self, lender_id: int) -> int | None:
        """The lender's credit in cents if this query already read it (answer_from_sign_in), else None."""
        found = self._read_at_sign_in
        return found.balance_cents if found is not None and found.viewer.lender_id == lender_id else None

    @property
    def rate(self) -> RateLimiter:
        return self.limits.rate

    @property
    def client_ip(self) -> str | None:
        """The caller's IP address, as the server saw it; None when unknown."""
        return self.request.client.host if self.request.client else None

    def require_lender(self, scope: str | None = None) -> int:
        """The signed-in lender's id, if their token carries `scope`; Forbidden for anyone else.

        The rule behind graph.permissions.IsLender. A resolver guarded by IsLender(scope) calls it
        without a scope, for the id: the permission has checked the scope before it ran.
        """
        return self._lender(scope)[1]

    def require_lender_viewer(self, scope: str | None = None) -> Viewer:
        """As require_lender, the lender's Viewer, for domain functions that take one."""
        return self._lender(scope)[0]

    def _lender(self, scope: str | None) -> tuple[Viewer, int]:
        viewer = self.viewer
        if viewer is None:
            raise Forbidden("Sign in with a lender token: Authorization: Bearer <token>.")
        if viewer.lender_id is None:
            raise Forbidden("Only a lender may do this.")
        if scope is not None:
            viewer.require(scope)
        return viewer, viewer.lender_id

    def reader(self, scope: str) -> int | None:
        """The lender whose private objects this viewer may read with `scope`, or None."""
        return self.viewer.lender_id if self.viewer is not None and self.viewer.may(scope) else None


# What every resolver receives: the typed context, no root value.
Info = strawberry.Info[Context, None]
