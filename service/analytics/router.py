"""The owner's routes (admin token): analytics of a window, the review queue, and the two
review actions (mark reviewed, promote into the golden set), and the promoted questions
as one golden file whichever replica took them."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from service.admin.auth import AdminDep, OperatorDep
from service.analytics import actions
from service.analytics.golden import GoldenFile
from service.analytics.report import TOP
from service.analytics.schemas import AnalyticsReport, Promoted, PromoteIn, ReviewItem, ReviewPage
from service.deps import MAX_OFFSET, StateDep

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    responses={
        401: {"description": "No bearer token"},
        403: {"description": "Wrong token"},
        404: {"description": "Admin routes disabled, or KB_ANALYTICS=off"},
        503: {"description": "The conversation log or the index is unavailable"},
    },
)
WINDOW = (
    "A date (YYYY-MM-DD, UTC; both ends included), an ISO 8601 time, or an age such as 7d, "
    "24h or 2w."
)


@router.get(
    "/analytics",
    response_model=AnalyticsReport,
    summary="What visitors asked and what the docs lacked, for a window (admin token, or "
    "the runtime file's token from this machine: `kb analytics`)",
)
async def get_analytics(
    _operator: OperatorDep,
    state: StateDep,
    since: Annotated[str | None, Query(max_length=40, description=WINDOW)] = None,
    until: Annotated[str | None, Query(max_length=40, description=WINDOW)] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Top questions and gaps.")] = TOP,
) -> AnalyticsReport:
    return await run_in_threadpool(actions.analytics, state, since, until, limit)


@router.get(
    "/review",
    response_model=ReviewPage,
    summary="Refused and thumbs-down answers, newest first (admin token)",
)
async def get_review(
    _admin: AdminDep,
    state: StateDep,
    status: Literal["open", "reviewed", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ReviewPage:
    return await run_in_threadpool(actions.review, state, status, limit, offset)


@router.post(
    "/review/{item_id}/reviewed",
    response_model=ReviewItem,
    summary="Mark a turn of the review queue reviewed (admin token)",
)
async def post_reviewed(
    item_id: Annotated[str, actions.ITEM_ID], _admin: AdminDep, state: StateDep
) -> ReviewItem:
    return await run_in_threadpool(actions.mark_reviewed, state, item_id)


@router.post(
    "/review/{item_id}/promote",
    status_code=201,
    response_model=Promoted,
    summary="Append a turn to the golden questions, so kb eval checks it (admin token)",
    responses={409: {"description": "Already promoted"}, 422: {"description": "Bad choice"}},
)
async def post_promote(
    item_id: Annotated[str, actions.ITEM_ID],
    _admin: AdminDep,
    state: StateDep,
    body: PromoteIn | None = None,
) -> Promoted:
    golden = GoldenFile(state.settings.golden_file)
    return await run_in_threadpool(actions.promote, state, item_id, body or PromoteIn(), golden)


@router.get(
    "/golden",
    summary="Every question promoted into the golden set, by any replica, as a JSON Lines "
    "golden file for `kb eval --golden` (admin token)",
    response_class=Response,
    responses={200: {"content": {"application/jsonl": {}}}},
)
async def get_golden(_admin: AdminDep, state: StateDep) -> Response:
    lines = await run_in_threadpool(actions.promoted, state)
    body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    return Response(body, media_type="application/jsonl")
