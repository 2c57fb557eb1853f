"""The typed context every resolver receives."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from graph.execution import SharedResults
from graph.loaders import Loaders
from lending.tokens import Viewer
from models import Loan, Partner
from subscriptions.hub import Hub


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | None
    viewer: Viewer | None
    clock: Callable[[], datetime]
    hub: Hub
    shared: SharedResults
    connection_params: dict[str, Any] | None = None  # a WebSocket's connection_init payload
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        # Per operation: loaders must never outlive the request that filled them.
        self.loaders = Loaders(self.clock)

    def fresh_loaders(self, loan: Loan | None = None) -> None:
        """New loaders for the next event of a long-lived subscription, primed with what it carries."""
        self.loaders = Loaders(self.clock)
        if loan is not None:
            self.loaders.loan.prime(loan.id, loan)
            if isinstance(loan.partner, Partner):
                self.loaders.partner.prime(loan.partner_id, loan.partner)

    def now(self) -> datetime:
        return self.clock()


# What every resolver receives: the typed context, no root value.
Info = strawberry.Info[Context, None]
