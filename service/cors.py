"""CORS: Starlette's middleware, with a refused preflight answered as a problem document
like every other error (Starlette answers it in plain text)."""

from __future__ import annotations

import logging

from cachetools import TTLCache
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

from service.problems import Problem, send_problem

_KEPT = {b"vary", b"access-control-allow-methods", b"access-control-max-age"}
log = logging.getLogger(__name__)
WARN_AGAIN_S = 600  # an origin refused again within this time is not logged again


class ProblemCORSMiddleware(CORSMiddleware):
    """Only the configured origins; a refused preflight is a 400 problem, and the origin
    is logged (once per origin every ten minutes) with the setting that would allow it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.warned: TTLCache[str, bool] = TTLCache(maxsize=256, ttl=WARN_AGAIN_S)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope) if scope["type"] == "http" else None
        if (
            headers is None
            or scope.get("method") != "OPTIONS"
            or "origin" not in headers
            or "access-control-request-method" not in headers
        ):
            await super().__call__(scope, receive, send)
            return
        refused: Message | None = None

        async def send_or_refuse(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start" and message["status"] == 400:
                refused = message
                return
            if refused is None:
                await send(message)
                return
            if message["type"] == "http.response.body" and not message.get("more_body"):
                reason = bytes(message.get("body", b"")).decode("utf-8", "replace")
                failures = reason.removeprefix("Disallowed CORS ").strip() or "origin"
                failures += " is" if "," not in failures else " are"
                self._warn(headers.get("origin", "")[:200], failures)
                kept = {
                    name.decode(): value.decode("latin-1")
                    for name, value in refused.get("headers") or []
                    if name.lower() in _KEPT
                }
                await send_problem(
                    scope,
                    send,
                    Problem(
                        400,
                        f"cross-origin request refused: its {failures} not allowed (a site "
                        "must be listed in KB_ALLOWED_ORIGINS)",
                        slug="cors-refused",
                        headers=kept,
                    ),
                )

        await super().__call__(scope, receive, send_or_refuse)

    def _warn(self, origin: str, failures: str) -> None:
        if origin in self.warned:
            return
        self.warned[origin] = True
        log.warning(
            "refused a cross-origin request from %r (its %s not allowed); to allow that site, "
            "add it to KB_ALLOWED_ORIGINS",
            origin,
            failures,
        )
