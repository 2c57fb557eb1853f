"""The typed context every resolver receives."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from graph.loaders import Loaders
from lending.tokens import Viewer


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | None
    viewer: Viewer | None
    clock: Callable[[], datetime]
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        # Per operation: loaders must never outlive the request that filled them.
        self.loaders = Loaders(self.clock)

    def now(self) -> datetime:
        return self.clock()
