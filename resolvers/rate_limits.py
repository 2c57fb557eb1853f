"""The caller's own rate limits and usage."""

import strawberry

from graph.context import Info
from graph.limits import client_ip, limits_of
from graph.types.rate_limits import RateLimit


@strawberry.type
class RateLimitQuery:
    @strawberry.field(
        description="Your request rate limit: your token's with a token, your IP address's without. "
        "This request is counted already. Null when that limit is off."
    )
    async def rate_limit(self, info: Info) -> RateLimit | None:
        limits = limits_of(info.context)
        bucket = limits.rate.caller(info.context.viewer, client_ip(info.context)) if limits else None
        return RateLimit.from_usage(await limits.rate.peek(bucket)) if limits and bucket else None

    @strawberry.field(
        description="Your deposits, withdrawals and loans per window, all your tokens together. "
        "Null without a lender token, or when that limit is off."
    )
    async def money_rate_limit(self, info: Info) -> RateLimit | None:
        limits = limits_of(info.context)
        bucket = limits.rate.money(info.context.viewer) if limits else None
        return RateLimit.from_usage(await limits.rate.peek(bucket)) if limits and bucket else None
