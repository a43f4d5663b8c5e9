"""The FastAPI application: ``create_app(settings)`` builds it, the lifespan owns its state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.routing import Route

from kbcore.errors import KBError
from kbcore.runtime import Runtime
from kbcore.settings import Settings
from service.admin.router import router as admin_router
from service.analytics.dashboard import router as dashboard_router
from service.analytics.router import router as analytics_router
from service.articles.router import router as articles_router
from service.chat.router import router as chat_router
from service.feedback.router import router as feedback_router
from service.health.router import router as health_router
from service.llms.router import router as llms_router
from service.mcp_server.server import build_mcp_server
from service.mcp_server.transport import PATH as MCP_PATH
from service.mcp_server.transport import McpEndpoint
from service.middleware import BodyLimitMiddleware, RequestIdMiddleware
from service.openai_compat.errors import OpenAIErrorMiddleware
from service.openai_compat.router import router as openai_router
from service.problems import install_problem_handlers
from service.ratelimit import RateLimitMiddleware
from service.search.router import router as search_router
from service.site.router import router as site_router
from service.state import ServiceState
from service.watch import watch_content
from service.widget.router import router as widget_router

log = logging.getLogger(__name__)

DESCRIPTION = """Knowledge-base search and grounded chat over Markdown articles.

Every answer cites the article sections it came from; every error is an RFC 9457
`application/problem+json` document.
"""


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    sync_on_start: bool | None = None,
    watch: bool = False,
) -> FastAPI:
    """Build the app. Pass ``runtime`` to share an already-open index (tests, CLI);
    ``watch`` reindexes when files under the content folder change."""
    settings = settings or Settings()
    state = ServiceState(settings=settings)
    owns_runtime = runtime is None
    mcp = McpEndpoint(build_mcp_server(state), settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.kb = state
        try:
            state.runtime = runtime or await asyncio.to_thread(Runtime.open, settings)
        except KBError as exc:
            state.startup_error = str(exc)
            log.error("startup failed: %s", exc)
        tasks: list[asyncio.Task[None]] = []
        state.conversation_log().start()  # prunes past the retention period, then writes
        if state.runtime is not None:
            if settings.sync_on_start if sync_on_start is None else sync_on_start:
                tasks.append(asyncio.create_task(_initial_sync(state)))
            else:
                state.ready = True
            if watch:
                tasks.append(asyncio.create_task(watch_content(state)))
        try:
            async with mcp.running():
                yield
        finally:
            for task in tasks:
                task.cancel()
            if state.reindex is not None:
                await asyncio.to_thread(state.reindex.wait_idle, 30)
            await asyncio.to_thread(state.stop_background_work)
            if owns_runtime and state.runtime is not None:
                state.runtime.close()

    app = FastAPI(
        title="Knowledge Base Chat",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.kb = state
    install_problem_handlers(app)
    # Outermost last: request id -> CORS -> OpenAI errors -> rate limit -> body size -> routes.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        RateLimitMiddleware,
        rate_per_minute=settings.rate_limit_per_minute,
        burst=settings.rate_limit_burst,
        trusted_proxies=settings.trusted_proxies,
    )
    app.add_middleware(OpenAIErrorMiddleware)  # OpenAI's error shape on its routes
    # Only the listed sites get CORS headers; no credentials, so no cookies cross over.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=[
            "Content-Type",
            "Accept",
            "X-Request-ID",
            "Authorization",
            "Mcp-Protocol-Version",
            "Mcp-Session-Id",
        ],
        expose_headers=["Retry-After", "X-Request-ID", "Mcp-Session-Id"],
        max_age=600,
    )
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health_router)
    app.include_router(search_router)
    app.include_router(articles_router)
    app.include_router(chat_router)
    app.include_router(feedback_router)
    app.include_router(admin_router)
    app.include_router(analytics_router)
    app.include_router(dashboard_router)
    app.include_router(widget_router)
    app.include_router(openai_router)
    app.include_router(llms_router)  # before the site: "/learn/{slug}.md"
    app.router.routes.append(Route(MCP_PATH, endpoint=mcp))
    app.include_router(site_router)  # last: it serves "/" and "/learn/{slug}"
    return app


async def _initial_sync(state: ServiceState) -> None:
    """Bring the index up to date with the content folder, then report ready."""
    job = await asyncio.to_thread(state.jobs().start, "startup", wait=True)
    if job.status != "succeeded":
        state.startup_error = job.error
        log.error("could not bring the index up to date: %s", job.error)
        return
    report = job.report or {}
    for error in report.get("errors") or []:  # type: ignore[attr-defined]
        log.warning("skipped: %s", error)
    log.info("index %s ready", report.get("index_version"))
    state.ready = True
