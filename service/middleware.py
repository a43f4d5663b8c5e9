"""ASGI middleware guarding what a request may cost before any route sees it.

- At most ``max_query_params`` query parameters (422 beyond): repeated parameters
  (``tag=a&tag=a...``) are parsed and handed to routes, so they are bounded here once
  for every route, whatever it declares.
- A body of at most ``max_body_bytes`` (413), whether announced by ``Content-Length`` or
  streamed in chunks.
- A body that has arrived within ``body_timeout_s`` of the request's headers (408): a
  client trickling a body byte by byte does not hold a worker.

Request ids are asgi-correlation-id's middleware (see ``service/app.py``); the header
timeout lives in the server protocol (``service/server.py``), as no ASGI app runs before
the headers are complete.
"""

from __future__ import annotations

import asyncio
import time

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.problems import Problem, send_problem

MAX_QUERY_PARAMS = 64


class RequestLimitsMiddleware:
    """Query parameter count, body size and body arrival time (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_timeout_s: float,
        max_query_params: int = MAX_QUERY_PARAMS,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.max_query_params = max_query_params

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope.get("query_string") or b""
        if query and query.count(b"&") + query.count(b";") + 1 > self.max_query_params:
            await send_problem(
                scope,
                send,
                Problem(
                    422,
                    f"too many query parameters (at most {self.max_query_params})",
                    slug="invalid-request",
                ),
            )
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await send_problem(scope, send, self._too_large())
            return
        deadline = time.monotonic() + self.body_timeout_s
        received = 0
        body_done = False
        started = False
        answered = False  # this middleware sent the response; the app's is dropped

        async def refuse(problem: Problem) -> None:
            nonlocal answered
            if not started and not answered:
                answered = True
                await send_problem(scope, send, problem)

        async def guarded_receive() -> Message:
            nonlocal received, body_done
            if body_done or answered:
                return await receive()
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                await refuse(
                    Problem(
                        408,
                        f"the request body did not arrive within {self.body_timeout_s:g} s",
                        slug="request-timeout",
                        headers={"Connection": "close"},
                    )
                )
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    await refuse(self._too_large())
                    return {"type": "http.disconnect"}
                body_done = not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if answered:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, guarded_receive, tracking_send)

    def _too_large(self) -> Problem:
        return Problem(
            413,
            f"the request body is larger than {self.max_body_bytes} bytes",
            slug="payload-too-large",
            title="Content Too Large",
            headers={"Connection": "close"},
        )
