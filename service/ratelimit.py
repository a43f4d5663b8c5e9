"""Per-client rate limiting of the public API, with the ``limits`` library.

Each client may send ``KB_RATE_LIMIT_BURST`` requests in any window of
``burst / rate_per_minute`` minutes (a moving window): a burst at once, and on average no
more than ``KB_RATE_LIMIT_PER_MINUTE``. Over the limit a request gets 429 problem+json
with ``Retry-After`` (the seconds until the window lets one more in).

The client is the ASGI scope's client address, which uvicorn's proxy handling sets from
``X-Forwarded-For`` only for the proxies in ``KB_TRUSTED_PROXIES`` (``service/server.py``);
no header is read here, except ``Authorization``: a request carrying the operator's token
(the admin token, or the runtime file's token from this machine) is never limited.
``/mcp`` has a budget of its own, five times a visitor's (see ``MCP_FACTOR``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Receive, Scope, Send

from service.problems import Problem, send_problem

LIMITED_PREFIXES = (
    "/v1/chat",  # and /v1/chat/completions
    "/v1/search",
    "/v1/articles",
    "/v1/feedback",
    "/v1/models",
    "/v1/admin",
    "/admin",
    "/mcp",
    "/llms",
    "/learn",
)
# An MCP client makes about five HTTP requests per tool call (initialize, initialized,
# tools/list, the call, its close): its budget is that many times a visitor's, in a bucket
# of its own.
MCP_PREFIX = "/mcp"
MCP_FACTOR = 5


class RateLimiter:
    """``burst`` requests per ``burst / rate`` minutes per client (moving window)."""

    def __init__(self, rate_per_minute: int, burst: int) -> None:
        self.enabled = rate_per_minute > 0
        seconds = max(1, math.ceil(60 * burst / rate_per_minute)) if self.enabled else 60
        self.item = RateLimitItemPerSecond(burst, seconds)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def take(self, client: str) -> float:
        """0 if allowed, else the seconds until the client may send again."""
        if self.limiter.hit(self.item, client):
            return 0.0
        stats = self.limiter.get_window_stats(self.item, client)
        return max(1.0, stats.reset_time - time.time())


class RateLimitMiddleware:
    """429 problem+json with Retry-After for clients over the limit on public routes."""

    def __init__(
        self,
        app: ASGIApp,
        rate_per_minute: int,
        burst: int,
        on_limited: Callable[[str], None] | None = None,
        exempt: Callable[[Scope], bool] | None = None,
    ) -> None:
        self.app = app
        self.limiter = RateLimiter(rate_per_minute, burst)
        self.mcp = RateLimiter(rate_per_minute * MCP_FACTOR, burst * MCP_FACTOR)
        self.on_limited = on_limited
        self.exempt = exempt  # the operator's own requests (their token) are never limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if (
            not self.limiter.enabled
            or scope["type"] != "http"
            or scope.get("method") == "OPTIONS"
            or not path.startswith(LIMITED_PREFIXES)
            or (self.exempt is not None and self.exempt(scope))
        ):
            await self.app(scope, receive, send)
            return
        client = str((scope.get("client") or ("unknown", 0))[0])
        limiter = self.mcp if path.startswith(MCP_PREFIX) else self.limiter
        wait = limiter.take(client)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        if self.on_limited is not None:
            self.on_limited(next(p for p in LIMITED_PREFIXES if path.startswith(p)))
        retry_after = str(math.ceil(wait))
        await send_problem(
            scope,
            send,
            Problem(
                429,
                f"too many requests; try again in {retry_after} s",
                slug="rate-limited",
                headers={"Retry-After": retry_after},
            ),
        )
