"""`GET /widget.js`: the embeddable chat widget, cacheable by a strong content-hash ETag."""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Response

router = APIRouter(tags=["widget"])

WIDGET_PATH = Path(__file__).resolve().parent / "static" / "widget.js"
CONTENT_TYPE = "text/javascript; charset=utf-8"
CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True)
class Asset:
    """One static file, with its gzip form and a strong ETag for each representation."""

    body: bytes
    gzipped: bytes
    etag: str
    gzip_etag: str
    stamp: tuple[int, int]


class AssetCache:
    """Reads a file once per (mtime, size), so an edited widget is served without restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._asset: Asset | None = None
        self._lock = threading.Lock()

    def get(self) -> Asset:
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._asset is None or self._asset.stamp != stamp:
                body = self.path.read_bytes()
                digest = hashlib.sha256(body).hexdigest()[:32]
                self._asset = Asset(
                    body=body,
                    gzipped=gzip.compress(body, compresslevel=9, mtime=0),
                    etag=f'"{digest}"',
                    gzip_etag=f'"{digest}-gz"',
                    stamp=stamp,
                )
            return self._asset


WIDGET = AssetCache(WIDGET_PATH)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match requires."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    offered = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in offered


def _accepts_gzip(accept_encoding: str | None) -> bool:
    for part in (accept_encoding or "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


@router.head("/widget.js", include_in_schema=False)
@router.get(
    "/widget.js",
    summary="The chat widget script (one <script> tag embeds it)",
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}, 304: {"description": "Not modified"}},
)
def widget_js(
    if_none_match: Annotated[str | None, Header()] = None,
    accept_encoding: Annotated[str | None, Header()] = None,
) -> Response:
    asset = WIDGET.get()
    use_gzip = _accepts_gzip(accept_encoding)
    etag = asset.gzip_etag if use_gzip else asset.etag
    headers = {
        "ETag": etag,
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Any site may load the script (that is the point); the API itself is CORS-guarded.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    body = asset.gzipped if use_gzip else asset.body
    return Response(content=body, headers=headers, media_type=CONTENT_TYPE)
