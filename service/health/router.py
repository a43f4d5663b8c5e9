"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from service.deps import StateDep
from service.problems import unavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the index is loaded and up to date, and feedback can be stored",
    responses={
        503: {"description": "Still starting, the index or the feedback store is unavailable"}
    },
)
async def readyz(state: StateDep) -> dict[str, object]:
    runtime = state.require_runtime()
    if not state.ready:
        detail = "the index is being brought up to date"
        if state.startup_error:
            detail = f"the index could not be brought up to date: {state.startup_error}"
        raise unavailable(detail, 2, slug="starting")
    version = await run_in_threadpool(runtime.store.serving)
    if version is None:
        raise unavailable("no index version is being served", 10, slug="index-not-ready")
    await run_in_threadpool(runtime.store.manifest, version)  # a damaged one is a 503
    feedback = await run_in_threadpool(state.feedback().health)
    if feedback is not None:
        raise unavailable(
            f"the feedback store is unavailable: {feedback}", 30, slug="feedback-unavailable"
        )
    running = state.reindex.running if state.reindex is not None else None
    return {
        "status": "ready",
        "index_version": version,
        "answer_cache": "warm" if state.warmed_version == version else "warming",
        "reindexing": running.trigger if running is not None else None,
    }
