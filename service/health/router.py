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
    summary="Readiness: the index is loaded and up to date with the content folder",
    responses={503: {"description": "Still starting or the index is unavailable"}},
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
    return {
        "status": "ready",
        "index_version": version,
        "answer_cache": "warm" if state.warmed_version == version else "warming",
    }
