"""The caller's own rate limits and usage."""

import strawberry

from graph.context import Info
from graph.types.rate_limits import RateLimit


@strawberry.type
class RateLimitQuery:
    @strawberry.field(
        description="Your request rate limit: your token's with a token, your IP address's without. "
        "This request is counted already. Null when that limit is off."
    )
    async def rate_limit(self, info: Info) -> RateLimit | None:
        context = info.context
        bucket = context.rate.caller(context.viewer, context.client_ip)
        return RateLimit.from_usage(await context.rate.peek(bucket)) if bucket else None

    @strawberry.field(
        description="Your deposits, withdrawals and loans per window, all your tokens together. "
        "Null without a lender token, or when that limit is off."
    )
    async def money_rate_limit(self, info: Info) -> RateLimit | None:
        bucket = info.context.rate.money(info.context.viewer)
        return RateLimit.from_usage(await info.context.rate.peek(bucket)) if bucket else None
