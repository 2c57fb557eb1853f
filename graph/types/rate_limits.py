"""Rate-limit usage, as the caller can read it (like GitHub's `rateLimit`)."""

from datetime import datetime
from enum import Enum

import strawberry

from graph.limits.rate import Usage


@strawberry.enum(description="Whose requests a rate limit counts.")
class RateLimitBucket(Enum):
    IP = "IP"
    TOKEN = "TOKEN"
    LENDER_MONEY = "LENDER_MONEY"


@strawberry.type(description="A rate limit and where the caller stands in its current window.")
class RateLimit:
    bucket: RateLimitBucket
    limit: int = strawberry.field(description="Requests allowed per window.")
    used: int = strawberry.field(description="Requests counted in the current window, this one included.")
    remaining: int = strawberry.field(description="Requests left in the current window.")
    reset_at: datetime = strawberry.field(description="When the current window ends and counting starts again.")
    window_seconds: int = strawberry.field(description="The length of a window.")

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
