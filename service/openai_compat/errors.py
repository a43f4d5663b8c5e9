"""OpenAI's error shape on the OpenAI-compatible routes.

Everywhere else an error is RFC 9457 problem+json. OpenAI clients expect
``{"error": {"message", "type", "param", "code"}}`` and pick their exception class by
status (401 AuthenticationError, 404 NotFoundError, 400 BadRequestError, 429
RateLimitError...), so on these paths one middleware rewrites every problem document,
wherever it was made (a route, validation, the rate limiter, the body cap), keeping its
status and headers (``Retry-After``, ``WWW-Authenticate``, ``X-Request-ID``). An invalid
body is 400, as OpenAI answers it, not 422.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.problems import PROBLEM_JSON

PATHS = ("/v1/chat/completions", "/v1/models")
_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_exceeded",
}


def error_body(
    status: int, message: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    """An OpenAI error object."""
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def from_problem(status: int, problem: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A problem document -> (status, OpenAI error)."""
    if status == 422:
        status = 400
    slug = str(problem.get("type") or "").rstrip("/").rsplit("/", 1)[-1]
    errors = problem.get("errors")
    param = problem.get("param")
    if param is None and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        param = errors[0].get("field")
    message = str(problem.get("detail") or problem.get("title") or "error")
    return status, error_body(status, message, slug.replace("-", "_") or None, param)


def on_openai_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PATHS)


class OpenAIErrorMiddleware:
    """Rewrites problem+json responses of the OpenAI-compatible paths into OpenAI errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not on_openai_path(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                content_type = Headers(raw=message.get("headers") or []).get("content-type", "")
                if content_type.startswith(PROBLEM_JSON):
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                body.extend(message.get("body", b""))
                if message.get("more_body"):
                    return
                await self._send_error(start, bytes(body), send)
                return
            await send(message)

        await self.app(scope, receive, rewrite)

    @staticmethod
    async def _send_error(start: Message, raw: bytes, send: Send) -> None:
        try:
            problem = json.loads(raw)
        except ValueError:
            problem = {}
        status, error = from_problem(
            int(start["status"]), problem if isinstance(problem, dict) else {}
        )
        encoded = json.dumps(error).encode()
        headers = [
            (name, value)
            for name, value in start.get("headers") or []
            if name.lower() not in (b"content-type", b"content-length")
        ]
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(encoded)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": encoded})
