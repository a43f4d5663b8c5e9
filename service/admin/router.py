"""Admin routes: start a reindex and follow it (Bearer ``KB_ADMIN_TOKEN``)."""

from __future__ import annotations

import os

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import SQLAlchemyError

from ingest.ownership import resolved_folder
from kbcore.versions import list_versions
from service.admin.auth import OperatorDep
from service.admin.jobs import JobConflictError
from service.database.engine import describe
from service.deps import RuntimeDep, StateDep
from service.problems import Problem, unavailable

router = APIRouter(prefix="/v1/admin", tags=["admin"])


class ReindexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = False
    rebuild: bool = False
    strict: bool = False


@router.post(
    "/reindex",
    status_code=202,
    summary="Rebuild the index from the content folder (incremental, atomic)",
    responses={
        401: {"description": "No bearer token"},
        403: {"description": "Wrong token"},
        404: {"description": "Admin routes disabled (no KB_ADMIN_TOKEN)"},
        409: {"description": "A reindex is already running"},
    },
)
async def start_reindex(
    _: OperatorDep, state: StateDep, response: Response, body: ReindexRequest | None = None
) -> dict[str, object]:
    options = body or ReindexRequest()
    replicas = state.replicas
    if replicas is not None and not options.dry_run and not replicas.leader:
        # A shared index is built by the leading replica only: ask it (and any other).
        await run_in_threadpool(replicas.broadcast, "api", rebuild=options.rebuild)
        return {
            "id": None,
            "status": "forwarded",
            "detail": "another replica builds the shared index; it was asked to reindex",
        }
    try:
        job = state.jobs().start(
            "api", dry_run=options.dry_run, rebuild=options.rebuild, strict=options.strict
        )
    except JobConflictError as exc:
        raise Problem(
            409,
            f"reindex {exc.running} is already running; follow it at "
            f"/v1/admin/reindex/{exc.running}",
            slug="reindex-running",
            extra={"running": exc.running},
        ) from exc
    response.headers["Location"] = f"/v1/admin/reindex/{job.id}"
    if replicas is not None and not options.dry_run:  # every other replica rebuilds too
        await run_in_threadpool(replicas.broadcast, "api", rebuild=options.rebuild)
    return job.to_json()


@router.get("/reindex/{job_id}", summary="Progress and result of a reindex job")
async def get_reindex(job_id: str, _: OperatorDep, state: StateDep) -> dict[str, object]:
    job = state.jobs().get(job_id)
    if job is None:
        raise Problem(404, f"no reindex job '{job_id}'", slug="job-not-found")
    return job.to_json()


@router.get("/index", summary="Index versions, newest first (what `kb index list` shows)")
async def index_versions(_: OperatorDep, runtime: RuntimeDep) -> dict[str, object]:
    versions = await run_in_threadpool(list_versions, runtime.store)
    return {"versions": [v.to_json() for v in versions]}


@router.get(
    "/server",
    summary="Which data and content folders this server holds (how `kb` checks the "
    "server its runtime file names is the right one)",
)
async def server_identity(_: OperatorDep, state: StateDep) -> dict[str, object]:
    settings = state.settings
    return {
        "data_dir": resolved_folder(settings.data_dir),
        "content_dir": resolved_folder(settings.content_dir),
        "pid": os.getpid(),
        "ready": state.ready,
    }


@router.get(
    "/replicas",
    summary="The replicas sharing KB_DATABASE_URL: the index version each serves, which "
    "one builds a shared index, when each was last seen",
)
async def replica_list(_: OperatorDep, state: StateDep) -> dict[str, object]:
    if state.replicas is None:
        raise Problem(
            404,
            "this server runs alone (no KB_DATABASE_URL): there are no replicas to list",
            slug="no-replicas",
        )
    try:
        seen = await run_in_threadpool(state.replicas.replicas)
    except SQLAlchemyError as exc:
        raise unavailable(
            f"the database is unavailable ({describe(exc)})", 10, slug="database-unavailable"
        ) from exc
    return {"this": state.replicas.replica_id, "replicas": seen}
