"""Per-request telemetry in one ASGI middleware: the access log line (with the request
id), the request metrics by route template and status, and the server span."""

from __future__ import annotations

import logging
import time

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.metrics import Metrics
from service.tracing import Tracing

access_log = logging.getLogger("kb.access")
_PROPAGATOR = TraceContextTextMapPropagator()


def route_of(scope: Scope) -> str:
    """The matched route's template, or "unmatched" (bounded label values)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class TelemetryMiddleware:
    """Logs, counts, times and traces every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics, tracing: Tracing | None) -> None:
        self.app = app
        self.metrics = metrics
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = str(scope.get("method", ""))
        status = 500  # when the app fails before answering

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        span = None
        token = None
        if self.tracing is not None:
            carrier = dict(Headers(scope=scope).items())
            span = self.tracing.tracer.start_span(
                method,
                context=_PROPAGATOR.extract(carrier),
                kind=trace.SpanKind.SERVER,
                attributes={"http.request.method": method, "url.path": str(scope["path"])},
            )
            token = otel_context.attach(trace.set_span_in_context(span))
        try:
            await self.app(scope, receive, recording_send)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope)
            self.metrics.request(method, route, status, seconds)
            if span is not None and token is not None:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(trace.Status(trace.StatusCode.ERROR))
                span.end()
                otel_context.detach(token)
            client = (scope.get("client") or ("-", 0))[0]
            access_log.info(
                "%s %s %d %.1f ms %s",
                method,
                scope["path"],
                status,
                seconds * 1000,
                client,
                extra={
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "client": client,
                },
            )
