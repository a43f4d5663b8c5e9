"""The demo "Learn" site: `/` embeds the widget like a customer page and lists the
articles; `/learn/{slug}` renders an article with the heading anchors citations link to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from service.deps import PublicBaseDep, StateDep
from service.problems import Problem
from service.site.content import SiteContent
from service.site.icons import FAVICON_ICO, FAVICON_SVG, ICON_HEADERS
from service.site.pages import article_html, content_security_policy, home_html, related_pages

router = APIRouter(include_in_schema=False)


def get_content(state: StateDep) -> SiteContent:
    """The service's cached view of the content folder."""
    return state.site_content()


ContentDep = Annotated[SiteContent, Depends(get_content)]
# The absolute address shown in the snippets: the configured public URL, else where the
# service listens (never the Host header).
KbUrlDep = PublicBaseDep


def page_base(state: StateDep) -> str:
    """Where the pages load the widget from: the configured public URL, else "" (this
    server, by relative URL)."""
    return (state.settings.public_base_url or "").rstrip("/")


PageBaseDep = Annotated[str, Depends(page_base)]


def _html(body: str, base: str) -> HTMLResponse:
    return HTMLResponse(
        body,
        headers={
            "Content-Security-Policy": content_security_policy(base),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "Cache-Control": "no-cache",
        },
    )


@router.get("/", response_class=HTMLResponse)
async def home(
    content: ContentDep, kb_url: KbUrlDep, base: PageBaseDep, state: StateDep
) -> HTMLResponse:
    pages = await run_in_threadpool(content.pages)
    settings = state.settings
    html = home_html(pages, kb_url, settings.mcp_token is not None, settings.model_id, base)
    return _html(html, base)


@router.get("/learn/{slug:path}", response_class=HTMLResponse)
async def article(slug: str, content: ContentDep, base: PageBaseDep) -> HTMLResponse:
    pages = await run_in_threadpool(content.pages)
    page = next((p for p in pages if p.article.slug == slug), None)
    if page is None:
        raise Problem(404, f"no article with slug '{slug}'", slug="article-not-found")
    return _html(article_html(page, related_pages(page, pages), base), base)


@router.get("/favicon.svg")
async def favicon_svg() -> Response:
    return Response(FAVICON_SVG, media_type="image/svg+xml", headers=ICON_HEADERS)


@router.get("/favicon.ico")
async def favicon_ico() -> Response:
    return Response(FAVICON_ICO, media_type="image/x-icon", headers=ICON_HEADERS)
