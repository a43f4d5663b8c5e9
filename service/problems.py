"""RFC 9457 problem details for every error response: one place maps errors to HTTP.

No stack trace, prompt or secret ever reaches a response body; unexpected errors are
logged with their request id and answered with a generic 500 problem.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kbcore.errors import (
    ContentError,
    EmbedderError,
    IndexNotFoundError,
    KBError,
    LLMUnavailableError,
    ModelMismatchError,
    StoreUnavailableError,
)

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://kb.example/problems/"


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


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    """Serialise a Problem with its request id and headers."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem.slug,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
        **problem.extra,
    }
    return JSONResponse(
        body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers
    )


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
    if isinstance(error, ModelMismatchError):
        return unavailable(str(error), retry_after=60, slug="model-mismatch")
    if isinstance(error, EmbedderError):
        return unavailable(
            "the embedding model is unavailable; try again shortly", slug="embedder-unavailable"
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
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(KBError)
    async def _domain(request: Request, exc: KBError) -> JSONResponse:
        problem = problem_from_error(exc)
        if problem.status >= 500 and problem.status != 503:
            log.error("request %s failed: %s", getattr(request.state, "request_id", "-"), exc)
        return problem_response(request, problem)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = _validation_detail(exc)
        return problem_response(
            request, Problem(422, detail, slug="invalid-request", extra={"errors": errors})
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route matches {request.method} {request.url.path}"
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem_response(
            request, Problem(exc.status_code, detail, headers=dict(exc.headers or {}))
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in request %s", getattr(request.state, "request_id", "-"))
        return problem_response(
            request, Problem(500, "the server could not complete the request", slug="internal")
        )
