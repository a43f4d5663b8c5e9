"""The API docs pages, ``/docs`` (Swagger UI) and ``/redoc``, with their scripts and
styles served by this service (the ``fastapi-offline`` package ships them; FastAPI's own
pages load them from a CDN) and the same security headers as the demo site: no script
but this server's files and the page's own inline start-up script, allowed by its hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"
ASSET_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.S)


def _hashes(html: str, tag: str) -> str:
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for kind, body in _INLINE.findall(html)
        if kind == tag
    )


def _page(html: str) -> HTMLResponse:
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {_hashes(html, 'script')}".strip(),
            # Swagger UI and ReDoc style elements at run time.
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "Cache-Control": "no-cache",
        },
    )


def install_api_docs(app: FastAPI) -> None:
    """``/docs``, ``/redoc`` and their assets (create the app with ``docs_url=None``)."""
    openapi_url = app.openapi_url or "/openapi.json"
    swagger_body = get_swagger_ui_html(
        openapi_url=openapi_url,
        title=f"{app.title} - API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url="/favicon.svg",
        swagger_ui_parameters=app.swagger_ui_parameters,
    ).body
    swagger = bytes(swagger_body).decode()
    redoc_body = get_redoc_html(
        openapi_url=openapi_url,
        title=f"{app.title} - ReDoc",
        redoc_js_url=f"{ASSETS}/redoc.standalone.js",
        redoc_favicon_url="/favicon.svg",
        with_google_fonts=False,
    ).body
    redoc = bytes(redoc_body).decode()

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _page(swagger)

    @app.get("/redoc", include_in_schema=False)
    async def redoc_ui() -> HTMLResponse:
        return _page(redoc)

    app.mount(ASSETS, StaticFiles(directory=ASSET_DIR), name="docs-assets")
