"""Rate-limit usage, as the caller can read it (like GitHub's `rateLimit`)."""

from datetime import datetime
from enum import Enum

import strawberry

from graph.limits.rate import Usage


@strawberry.enum(description="Whose requests a rate limit counts.")
class RateLimitBucket(Enum):
    IP = strawberry.enum_value(
        "IP", description="Every HTTP request and WebSocket operation from one IP address (6,000 a minute by default)."
    )
    TOKEN = strawberry.enum_value(
        "TOKEN", description="Every request and operation made with one token (1,200 a minute by default)."
    )
    LENDER_MONEY = strawberry.enum_value(
        "LENDER_MONEY",
        description="The deposit, withdraw and lend fields of one lender, all of their tokens together "
        "(60 a minute by default).",
    )


@strawberry.type(
    description="A rate limit and where the caller stands in its current window. Windows are fixed and aligned "
    "on the clock; a request over the limit is refused with extensions.code RATE_LIMITED (over HTTP, "
    "429 with Retry-After) and counts too."
)
class RateLimit:
    bucket: RateLimitBucket = strawberry.field(description="Whose requests this limit counts.")
    limit: int = strawberry.field(description="Requests allowed per window.")
    used: int = strawberry.field(description="Requests counted in the current window, this one included.")
    remaining: int = strawberry.field(description="Requests left in the current window.")
    reset_at: datetime = strawberry.field(description="When the current window ends and counting starts again.")
    window_seconds: int = strawberry.field(description="The length of a window, in seconds (60 by default).")

    @classmethod
    def from_usage(cls, usage: Usage) -> "RateLimit":
        return cls(
            bucket=RateLimitBucket(usage.bucket.kind),
            limit=usage.limit,
            used=usage.used,
            remaining=usage.remaining,
            reset_at=usage.reset_at,
            window_seconds=usage.window,
        )
