"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from kbcore.versions import serving_collection
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
        raise unavailable("the index is being brought up to date", 2, slug="starting")
    collection = await run_in_threadpool(
        serving_collection, runtime.client, runtime.settings.collection
    )
    if collection is None:
        raise unavailable("no index version is being served", 10, slug="index-not-ready")
    return {"status": "ready", "index_version": collection.split("__", 1)[-1]}
