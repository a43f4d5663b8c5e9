"""RFC 9457 problem details for every error response: one place maps errors to HTTP and
builds the body, for routes (``problem_response``) and ASGI middleware (``send_problem``)
alike.

No stack trace, prompt or secret ever reaches a response body; unexpected errors are
logged with their request id and answered with a generic 500 problem. A person's browser
asking for a page (``Accept: text/html``, outside the API) gets the same status as a
small HTML page instead of JSON.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Scope, Send

from kbcore.errors import (
    ContentError,
    EmbedderError,
    IndexCorruptError,
    IndexNotFoundError,
    KBError,
    LLMUnavailableError,
    ModelMismatchError,
    StoreUnavailableError,
)
from service.feedback.store import FeedbackUnavailableError
from service.site.errorpage import ERROR_PAGE_HEADERS, error_html

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://kb.example/problems/"
# Paths only programs call: always problem+json, whatever the Accept header says.
API_PREFIXES = ("/v1/", "/mcp", "/openapi.json", "/metrics", "/healthz", "/readyz")


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or HTTPStatus(status).phrase.lower().replace(" ", "-")
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extra = extra or {}

    def document(self, instance: str) -> dict[str, Any]:
        """The problem+json body (with the current request's id)."""
        return {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            "request_id": correlation_id.get(),
            **self.extra,
        }


def wants_html(path: str, accept: str | None) -> bool:
    """A browser navigating to a page (not a program calling the API)."""
    return "text/html" in (accept or "") and not path.startswith(API_PREFIXES)


def _rendered(problem: Problem, path: str, accept: str | None) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a problem, as HTML for a person or problem+json."""
    headers = dict(problem.headers)
    if wants_html(path, accept):
        headers.update(ERROR_PAGE_HEADERS)
        body = error_html(problem.status, problem.title, problem.detail).encode()
        headers["Content-Type"] = "text/html; charset=utf-8"
    else:
        body = json.dumps(problem.document(path), ensure_ascii=False).encode()
        headers["Content-Type"] = PROBLEM_JSON
    return body, headers


def problem_response(request: Request, problem: Problem) -> Response:
    """A route's problem answer."""
    body, headers = _rendered(problem, request.url.path, request.headers.get("accept"))
    media_type = headers.pop("Content-Type")
    return Response(body, status_code=problem.status, media_type=media_type, headers=headers)


async def send_problem(scope: Scope, send: Send, problem: Problem) -> None:
    """Answer with a problem from ASGI middleware (before or instead of the app)."""
    path = str(scope.get("path", ""))
    body, headers = _rendered(problem, path, Headers(scope=scope).get("accept"))
    headers["Content-Length"] = str(len(body))
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": body})


def unavailable(detail: str, retry_after: int = 5, slug: str = "unavailable") -> Problem:
    """503 with Retry-After."""
    return Problem(
        503,
        detail,
        slug=slug,
        title="Service Unavailable",
        headers={"Retry-After": str(retry_after)},
    )


def problem_from_error(error: KBError) -> Problem:
    """Map a domain error to its HTTP problem."""
    if isinstance(error, LLMUnavailableError):
        return unavailable(
            "the language model did not answer in time; try again shortly",
            retry_after=10,
            slug="llm-unavailable",
        )
    if isinstance(error, StoreUnavailableError):
        return unavailable(
            "the search index is unavailable; try again shortly", slug="index-unavailable"
        )
    if isinstance(error, IndexNotFoundError):
        return unavailable(
            "the index is not built yet; try again shortly", retry_after=10, slug="index-not-ready"
        )
    if isinstance(error, IndexCorruptError):
        return unavailable(
            f"the search index is damaged: {error}", retry_after=60, slug="index-corrupt"
        )
    if isinstance(error, ModelMismatchError):
        return unavailable(str(error), retry_after=60, slug="model-mismatch")
    if isinstance(error, EmbedderError):
        return unavailable(
            "the embedding model is unavailable; try again shortly", slug="embedder-unavailable"
        )
    if isinstance(error, FeedbackUnavailableError):
        return unavailable(
            "feedback cannot be stored right now; try again later",
            retry_after=30,
            slug="feedback-unavailable",
        )
    if isinstance(error, ContentError):
        return Problem(422, str(error), slug="invalid-content")
    return Problem(500, "the server could not complete the request", slug="internal")


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = []
    for err in exc.errors():
        location = ".".join(str(part) for part in err.get("loc", ()) if part != "body")
        errors.append({"field": location or "body", "message": err.get("msg", "invalid")})
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return "the request body is not valid JSON", errors
    first = errors[0] if errors else {"field": "body", "message": "invalid"}
    return f"{first['field']}: {first['message']}", errors


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error through a problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(request, exc)

    @app.exception_handler(KBError)
    async def _domain(request: Request, exc: KBError) -> Response:
        problem = problem_from_error(exc)
        if problem.status >= 500 and problem.status != 503:
            log.error("request failed: %s", exc)
        return problem_response(request, problem)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        detail, errors = _validation_detail(exc)
        return problem_response(
            request, Problem(422, detail, slug="invalid-request", extra={"errors": errors})
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route matches {request.method} {request.url.path}"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(
            request, Problem(exc.status_code, detail, headers=dict(exc.headers or {}))
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem_response(
            request, Problem(500, "the server could not complete the request", slug="internal")
        )
