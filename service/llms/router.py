"""``GET /llms.txt``, ``GET /llms-full.txt`` (llmstxt.org) and ``GET /learn/{slug}.md``.

Built from the served index version and cached per version; each response carries a
strong ETag (``If-None-Match`` answers 304) and is revalidated on every use, so a client
sees a new version as soon as it serves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.concurrency import run_in_threadpool

from service.deps import PublicBaseDep, StateDep
from service.llms.cache import LlmsFiles, LlmsSource, strong_etag
from service.problems import Problem
from service.site.markdown import MarkdownNotFoundError, read_markdown
from service.state import ServiceState

router = APIRouter(tags=["llms.txt"])

TEXT = "text/plain; charset=utf-8"
MARKDOWN = "text/markdown; charset=utf-8"
IfNoneMatch = Annotated[str | None, Header(include_in_schema=False)]
TEXT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {TEXT: {}}},
    304: {"description": "Not modified (If-None-Match)"},
    503: {"description": "Index not built yet (Retry-After)"},
}


def _files(state: ServiceState, base: str) -> LlmsFiles:
    version, catalog = state.served_catalog()
    source = LlmsSource(
        index_version=version,
        catalog=catalog,
        site=state.site_content(),
        content_dir=state.settings.content_dir,
        name=state.settings.name,
        model_id=state.settings.model_id,
    )
    return state.llms.get(source, base)


def _text(body: str, media_type: str, etag: str, if_none_match: str | None) -> Response:
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if if_none_match and etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get(
    "/llms.txt",
    summary="The knowledge base for LLMs (llmstxt.org): articles by tag, linked as Markdown",
    response_class=Response,
    responses=TEXT_RESPONSES,
)
async def get_llms_txt(
    state: StateDep, base: PublicBaseDep, if_none_match: IfNoneMatch = None
) -> Response:
    files = await run_in_threadpool(_files, state, base)
    return _text(files.llms_txt, TEXT, files.llms_txt_etag, if_none_match)


@router.get(
    "/llms-full.txt",
    summary="Every article's Markdown in one file, each with its Source: URL",
    response_class=Response,
    responses=TEXT_RESPONSES,
)
async def get_llms_full(
    state: StateDep, base: PublicBaseDep, if_none_match: IfNoneMatch = None
) -> Response:
    files = await run_in_threadpool(_files, state, base)
    return _text(files.llms_full, TEXT, files.llms_full_etag, if_none_match)


def _article_markdown(state: ServiceState, slug: str, base: str) -> str:
    _, catalog = state.served_catalog()
    info = catalog.get(slug)
    if info is None:
        raise Problem(404, f"no article with slug '{slug}'", slug="article-not-found")
    content_dir = state.settings.content_dir
    try:
        doc = read_markdown(state.site_content(), content_dir, info, catalog=catalog, base=base)
        return doc.document()
    except MarkdownNotFoundError as exc:
        raise Problem(404, str(exc), slug="article-source-not-found") from exc


@router.get(
    "/learn/{slug:path}.md",
    summary="One article's Markdown as its page reads (generator syntax resolved, links absolute)",
    response_class=Response,
    responses={200: {"content": {MARKDOWN: {}}}, 404: {"description": "No such article"}},
)
async def get_article_markdown(
    slug: str, state: StateDep, base: PublicBaseDep, if_none_match: IfNoneMatch = None
) -> Response:
    body = await run_in_threadpool(_article_markdown, state, slug, base)
    return _text(body, MARKDOWN, strong_etag(body), if_none_match)
