"""``GET /v1/articles`` and ``GET /v1/articles/{slug}``: metadata and heading anchors."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from service.deps import RuntimeDep, StateDep
from service.problems import Problem

router = APIRouter(prefix="/v1", tags=["articles"])


@router.get("/articles", summary="List indexed articles")
async def list_articles(state: StateDep, runtime: RuntimeDep) -> dict[str, object]:
    version = await run_in_threadpool(runtime.retriever.resolve)
    catalog = await run_in_threadpool(state.catalog, version)
    return {
        "articles": [a.to_json(with_outline=False) for a in catalog.values()],
        "index_version": version,
    }


@router.get("/articles/{slug:path}", summary="One article's metadata and headings with anchors")
async def get_article(slug: str, state: StateDep, runtime: RuntimeDep) -> dict[str, object]:
    version = await run_in_threadpool(runtime.retriever.resolve)
    catalog = await run_in_threadpool(state.catalog, version)
    article = catalog.get(slug)
    if article is None:
        raise Problem(404, f"no article with slug '{slug}'", slug="article-not-found")
    return {**article.to_json(), "index_version": version}
