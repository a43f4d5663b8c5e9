"""``GET /v1/search``: ranked article sections, as `kb search --json` prints them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, StringConstraints

from service.deps import StateDep

router = APIRouter(prefix="/v1", tags=["search"])
MAX_TAGS = 10  # as many as a chat request may name
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64)]


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
    state: StateDep,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="The query.")],
    k: Annotated[int, Query(ge=1, le=50, description="Sections to return.")] = 5,
    tag: Annotated[
        list[Tag] | None,
        Query(max_length=MAX_TAGS, description="Only sections with any of these tags (≤ 10)."),
    ] = None,
    mode: Annotated[
        Literal["hybrid", "dense", "sparse"], Query(description="Which signals rank.")
    ] = "hybrid",
) -> SearchOut:
    retriever = await run_in_threadpool(state.retriever)
    tags = list(dict.fromkeys(tag)) if tag else None
    result = await run_in_threadpool(retriever.search, q, k, tags, mode)
    return SearchOut(
        hits=[SearchHitOut.model_validate(hit.to_json()) for hit in result.hits],
        index_version=result.index_version,
    )
