"""Per-client rate limiting of the public API: a token bucket per client IP.

Over the limit a request gets 429 problem+json with ``Retry-After``. The client IP is the
socket peer, or the first ``X-Forwarded-For`` hop when the peer is a trusted proxy.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from service.problems import PROBLEM_BASE, PROBLEM_JSON

LIMITED_PREFIXES = (
    "/v1/chat",  # and /v1/chat/completions
    "/v1/search",
    "/v1/articles",
    "/v1/feedback",
    "/v1/models",
    "/mcp",
    "/llms",
)
MAX_CLIENTS = 50_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``rate_per_minute`` sustained, ``burst`` at once, per key (bounded memory)."""

    def __init__(self, rate_per_minute: int, burst: int) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 if allowed, else the seconds to wait before the next request would be."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.pop(key, None) or _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            self._buckets[key] = bucket
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate if self.rate > 0 else 60.0


def client_ip(scope: Scope, trusted_proxies: frozenset[str]) -> str:
    peer = str((scope.get("client") or ("unknown", 0))[0])
    if peer in trusted_proxies:
        headers: dict[bytes, bytes] = dict(scope.get("headers") or [])
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        first: str = forwarded.split(",")[0].strip()
        if first:
            return first
    return peer


class RateLimitMiddleware:
    def __init__(
        self, app: ASGIApp, rate_per_minute: int, burst: int, trusted_proxies: list[str]
    ) -> None:
        self.app = app
        self.enabled = rate_per_minute > 0
        self.buckets = TokenBuckets(rate_per_minute, burst)
        self.trusted = frozenset(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            not self.enabled
            or scope["type"] != "http"
            or scope.get("method") == "OPTIONS"
            or not str(scope.get("path", "")).startswith(LIMITED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(client_ip(scope, self.trusted))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = str(max(1, math.ceil(wait)))
        state = scope.get("state") or {}
        body = json.dumps(
            {
                "type": PROBLEM_BASE + "rate-limited",
                "title": "Too Many Requests",
                "status": 429,
                "detail": f"too many requests; try again in {retry_after} s",
                "instance": scope.get("path", ""),
                "request_id": state.get("request_id"),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", retry_after.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
