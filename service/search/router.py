"""``GET /v1/search``: ranked article sections, as `kb search --json` prints them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from service.deps import RuntimeDep

router = APIRouter(prefix="/v1", tags=["search"])


class SearchHitOut(BaseModel):
    article: str
    title: str
    heading: str
    heading_path: str
    anchor: str
    url: str
    path: str
    text: str
    score: float
    dense_score: float | None
    sparse_score: float | None


class SearchOut(BaseModel):
    hits: list[SearchHitOut]
    index_version: str


@router.get("/search", summary="Search article sections (hybrid dense + BM25)")
async def search(
    runtime: RuntimeDep,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="The query.")],
    k: Annotated[int, Query(ge=1, le=50, description="Sections to return.")] = 5,
    tag: Annotated[
        list[str] | None, Query(description="Only sections with any of these tags.")
    ] = None,
) -> SearchOut:
    result = await run_in_threadpool(runtime.retriever.search, q, k, tag)
    return SearchOut(
        hits=[SearchHitOut.model_validate(hit.to_json()) for hit in result.hits],
        index_version=result.index_version,
    )
