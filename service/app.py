"""The FastAPI application: ``create_app(settings)`` builds it, the lifespan owns its state."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI
from starlette.routing import Route

from kbcore.errors import KBError
from kbcore.runtime import Runtime
from kbcore.serverfile import ServerInfo, remove_server_file, write_server_file
from kbcore.settings import Settings
from service.admin.auth import operator_scope
from service.admin.router import router as admin_router
from service.analytics.dashboard import router as dashboard_router
from service.analytics.router import router as analytics_router
from service.apidocs import install_api_docs
from service.articles.router import router as articles_router
from service.chat.router import router as chat_router
from service.cors import ProblemCORSMiddleware
from service.feedback.router import router as feedback_router
from service.health.router import router as health_router
from service.llms.router import router as llms_router
from service.mcp_server.server import build_mcp_server
from service.mcp_server.transport import PATH as MCP_PATH
from service.mcp_server.transport import McpEndpoint
from service.metrics import Metrics
from service.metrics_router import router as metrics_router
from service.middleware import RequestLimitsMiddleware
from service.openai_compat.errors import OpenAIErrorMiddleware
from service.openai_compat.router import router as openai_router
from service.problems import install_problem_handlers
from service.ratelimit import RateLimitMiddleware
from service.replicas import ReplicaCoordinator
from service.search.router import router as search_router
from service.site.router import router as site_router
from service.state import ServiceState
from service.telemetry import TelemetryMiddleware
from service.tracing import ServiceObserver, build_tracing
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
    announce: str | None = None,
    replace: bool = False,
) -> FastAPI:
    """Build the app. Pass ``runtime`` to share an already-open index (tests, CLI);
    ``watch`` reindexes when files under the content folder change; ``announce`` (the
    URL `kb serve` listens on) leaves the runtime file for the CLI in the data folder and
    is logged once the service answers; ``replace`` lets the start-up build replace an
    index built from another content folder (``ingest.ownership``)."""
    settings = settings or Settings()
    metrics = Metrics()
    tracing = build_tracing(settings.otel_endpoint)
    builds = settings.sync_on_start if sync_on_start is None else sync_on_start
    state = ServiceState(
        settings=settings,
        observer=ServiceObserver(metrics, tracing),
        on_reindexed=metrics.reindexed,
        builds_index=builds,
    )
    metrics.watch_index(state.describe_index)
    metrics.watch_builds(lambda: state.builds_index)
    metrics.watch_store(
        "conversation_log",
        "Conversation log",
        lambda: asdict(state.conversation_log().writer.stats),
        lambda: state.conversation_log().writer.last_error is not None,
    )
    metrics.watch_store(
        "feedback",
        "Feedback",
        lambda: state.feedback().counts(),
        lambda: state.feedback().last_error is not None,
    )
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
        announced = False
        builds = state.builds_index
        if state.runtime is not None and settings.database_url is not None:
            state.replicas = _coordinator(state)
            leads = await asyncio.to_thread(state.replicas.begin)
            builds = state.builds_index = builds and leads
            state.replicas.start()
        if state.runtime is not None:
            if announce is not None and owns_runtime:
                info = ServerInfo(url=announce, token=state.local_token, pid=os.getpid())
                write_server_file(settings.data_dir, info)
                announced = True
            if builds:
                tasks.append(asyncio.create_task(_initial_sync(state, announce, replace)))
            else:
                state.ready = True
                if announce is not None:
                    log.info("ready at %s (the index is not synced on start)", announce)
            if watch:
                tasks.append(asyncio.create_task(watch_content(state)))
        try:
            async with mcp.running():
                yield
        finally:
            for task in tasks:
                task.cancel()
            if state.replicas is not None:
                await asyncio.to_thread(state.replicas.stop)
            if state.reindex is not None:
                await asyncio.to_thread(state.reindex.wait_idle, 30)
            await asyncio.to_thread(state.stop_background_work)
            if announced:
                remove_server_file(settings.data_dir, os.getpid())
            if owns_runtime and state.runtime is not None:
                state.runtime.close()
            if tracing is not None:
                await asyncio.to_thread(tracing.shutdown)

    app = FastAPI(
        title="Knowledge Base Chat",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.kb = state
    app.state.metrics = metrics
    install_problem_handlers(app)
    # Outermost last: request id -> telemetry -> CORS -> OpenAI errors -> rate limit ->
    # request limits (query, body size and time) -> routes.
    app.add_middleware(
        RequestLimitsMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_s=settings.body_timeout_s,
    )
    app.add_middleware(
        RateLimitMiddleware,
        rate_per_minute=settings.rate_limit_per_minute,
        burst=settings.rate_limit_burst,
        on_limited=metrics.limited,
        exempt=operator_scope(state),
    )
    app.add_middleware(OpenAIErrorMiddleware)  # OpenAI's error shape on its routes
    # Only the listed sites get CORS headers; no credentials, so no cookies cross over.
    app.add_middleware(
        ProblemCORSMiddleware,
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
    app.add_middleware(TelemetryMiddleware, metrics=metrics, tracing=tracing)
    app.add_middleware(
        CorrelationIdMiddleware,
        header_name="X-Request-ID",
        generator=lambda: secrets.token_hex(8),
        validator=_valid_request_id,
    )
    install_api_docs(app)
    app.include_router(health_router)
    if settings.metrics:
        app.include_router(metrics_router)
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


def _valid_request_id(value: str) -> bool:
    """An incoming X-Request-ID is kept when it is short and printable."""
    return 0 < len(value) <= 64 and value.isprintable() and value.isascii()


def _coordinator(state: ServiceState) -> ReplicaCoordinator:
    """This replica's part among several sharing ``KB_DATABASE_URL``."""
    runtime = state.require_runtime()

    def leadership(leading: bool) -> None:
        state.builds_index = leading

    return ReplicaCoordinator(
        database=state.databases.get("log"),
        jobs=state.jobs,
        served_version=runtime.store.serving,
        shared_index=state.settings.qdrant_url is not None,
        poll_s=state.settings.replica_poll_s,
        on_leadership=leadership,
    )


async def _initial_sync(state: ServiceState, url: str | None, replace: bool) -> None:
    """Bring the index up to date with the content folder, then report ready."""
    job = await asyncio.to_thread(state.jobs().start, "startup", wait=True, replace=replace)
    if job.status != "succeeded":
        state.startup_error = job.error
        log.error("could not bring the index up to date: %s", job.error)
        return
    report = job.report or {}
    state.ready = True
    where = f" at {url}" if url else ""
    log.info("ready%s: serving index version %s", where, report.get("index_version"))
