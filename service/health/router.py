"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from kbcore.errors import KBError
from kbcore.runtime import Runtime
from service.deps import StateDep
from service.problems import unavailable
from service.state import ServiceState

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


def _serving_intact(runtime: Runtime) -> bool:
    """Whether the store serves a version whose manifest reads."""
    try:
        version = runtime.store.serving()
        return version is not None and runtime.store.manifest(version) is not None
    except KBError:
        return False


def _extras(state: ServiceState) -> list[dict[str, str]]:
    """What is wrong with the stores answers do not need (feedback, the conversation
    log): reported so an operator sees it, never a reason to take the instance out. The
    details name files relative to the data folder only."""
    problems: list[dict[str, str]] = []
    store = state.feedback()
    # An embedded file is checked (and healed) now; a database server is reported as the
    # last write found it: a probe must answer fast even when the server does not.
    feedback = store.health() if store.path is not None else store.last_error
    if feedback is not None:
        problems.append({"component": "feedback", "detail": feedback})
    if state.settings.analytics:
        logged = state.conversation_log().writer.last_error
        if logged is not None:
            problems.append({"component": "conversation_log", "detail": logged})
    return problems


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the index is loaded and up to date (a failing feedback store or "
    "conversation log is reported, not a 503: answers do not need them)",
    responses={503: {"description": "Still starting, or the index is unavailable"}},
)
async def readyz(state: StateDep) -> dict[str, object]:
    runtime = state.require_runtime()
    if not state.ready:
        if not state.startup_error:
            raise unavailable("the index is being brought up to date", 2, slug="starting")
        # A failed start recovers by itself once an intact index is served again (repaired
        # by `kb ingest --rebuild` or a reindex); the cause stays in the server log only.
        if not await run_in_threadpool(_serving_intact, runtime):
            raise unavailable(
                "the index could not be brought up to date; the server log says why "
                "(`kb ingest --rebuild` repairs a damaged index)",
                10,
                slug="starting",
            )
        state.ready, state.startup_error = True, None
        log.info("ready again: an intact index is served")
    version = await run_in_threadpool(runtime.store.serving)
    if version is None:
        raise unavailable("no index version is being served", 10, slug="index-not-ready")
    await run_in_threadpool(runtime.store.manifest, version)  # a damaged one is a 503
    problems = await run_in_threadpool(_extras, state)
    running = state.reindex.running if state.reindex is not None else None
    replicas = state.replicas
    replica = (
        {"id": replicas.replica_id, "builds_index": state.builds_index}
        if replicas is not None
        else None
    )
    return {
        "replica": replica,
        "status": "degraded" if problems else "ready",
        "problems": problems,
        "index_version": version,
        "answer_cache": "warm" if state.warmed_version == version else "warming",
        "reindexing": running.trigger if running is not None else None,
    }
