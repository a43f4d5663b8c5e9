"""`/admin`: the owner's dashboard. The page itself holds no data; the owner enters the
admin token once (kept in sessionStorage, sent as a bearer token), and the page fetches
its panels, rendered on the server, from `/admin/panels`. The chart library (uPlot, MIT)
and the page's script and stylesheet are served from the package, never a CDN, under a
CSP that allows nothing else: no inline script or style, no other origin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from service.admin.auth import AdminDep
from service.analytics import actions
from service.analytics.pages import page_html, panels_html
from service.analytics.router import WINDOW
from service.deps import StateDep
from service.problems import Problem
from service.state import ServiceState
from service.widget.router import AssetCache

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {
    "dashboard.js": (STATIC / "dashboard.js", "text/javascript; charset=utf-8"),
    "dashboard.css": (STATIC / "dashboard.css", "text/css; charset=utf-8"),
    "uPlot.iife.min.js": (
        STATIC / "vendor" / "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
    ),
    "uPlot.min.css": (STATIC / "vendor" / "uPlot.min.css", "text/css; charset=utf-8"),
    "uPlot.LICENSE": (STATIC / "vendor" / "uPlot.LICENSE", "text/plain; charset=utf-8"),
}
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
REVIEW_ON_PAGE = 30


@router.get("/admin", response_class=HTMLResponse)
async def dashboard(state: StateDep) -> HTMLResponse:
    settings = state.settings
    enabled = settings.admin_token is not None
    return HTMLResponse(page_html(settings.name, enabled), headers=HEADERS)


def _panels(state: ServiceState, since: str | None, until: str | None) -> str:
    report = actions.analytics(state, since, until)
    review = actions.review(state, "open", REVIEW_ON_PAGE, 0)
    _, catalog = state.served_catalog()
    return panels_html(report, review, catalog)


@router.get("/admin/panels", response_class=HTMLResponse)
async def panels(
    _admin: AdminDep,
    state: StateDep,
    since: Annotated[str | None, Query(max_length=40, description=WINDOW)] = None,
    until: Annotated[str | None, Query(max_length=40, description=WINDOW)] = None,
) -> HTMLResponse:
    html = await run_in_threadpool(_panels, state, since, until)
    return HTMLResponse(html, headers=HEADERS)


@router.get("/admin/static/{name}")
async def static(name: str, if_none_match: Annotated[str | None, Header()] = None) -> Response:
    if name not in ASSETS:
        raise Problem(404, f"no dashboard asset '{name}'", slug="not-found")
    path, media_type = ASSETS[name]
    asset = await run_in_threadpool(AssetCache(path).get)  # the owner's page: read per request
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    offered = {tag.strip().removeprefix("W/") for tag in (if_none_match or "").split(",")}
    if asset.etag in offered:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, headers=headers, media_type=media_type)
