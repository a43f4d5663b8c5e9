"""The demo site's view of the content folder: each page parsed and rendered once per file
version, by the same loader (and parser) the index uses; its tokens are kept for the
page's Markdown (``service.site.markdown``)."""

from __future__ import annotations

import logging
import posixpath
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from markdown_it.token import Token

from ingest.articles import (
    Article,
    ContentLoader,
    ContentSource,
    make_loader,
    unpublished_removed,
)
from ingest.dialects import DocsFormat, DocsSite
from ingest.discovery import ContentFile, discover
from kbcore.errors import ContentError
from service.site.render import RenderedBody, add_site_rules, render_page

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """An article, its rendered body and the tokens both come from (never changed)."""

    article: Article
    body: RenderedBody
    tokens: Sequence[Token] = ()
    # What the page's relative links to files other than pages (images, downloads, ``/x``)
    # resolve against on the real site; None when it is not known (no KB_SITE_URL).
    link_base: str | None = None


def link_base(site: DocsSite, article: Article) -> str | None:
    """Where a page's relative links lead on the real site: MkDocs rewrites them as
    relative to the source file; every other generator publishes them as written, relative
    to the page's URL."""
    if site.site_url is None:
        return None
    if site.format is DocsFormat.MKDOCS:
        folder = posixpath.dirname(article.rel)
        return f"{site.site_url}/{quote(folder, safe='/')}/" if folder else f"{site.site_url}/"
    return article.url


@dataclass(frozen=True)
class _Entry:
    stamp: tuple[int, int, str]
    page: Page | None  # None: a file that does not index (reported by ingest)


class SiteContent:
    """Pages of the content folder; a file is re-read only when it changes."""

    def __init__(self, source: ContentSource) -> None:
        self.source = source
        self._loader: ContentLoader | None = None
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def pages(self) -> list[Page]:
        """Every page that loads, in title order."""
        if not self.source.content_dir.is_dir():
            return []
        found = discover(self.source.content_dir, self.source.exclude)
        with self._lock:
            if self._loader is None:
                self._loader = make_loader(self.source, found.files)
                add_site_rules(self._loader.markdown)
            loader = self._loader
        files = unpublished_removed(found, loader.site).files
        slugs = {str(f.rel): f.slug for f in files}
        pages = [p for p in (self._page(loader, f, slugs) for f in files) if p is not None]
        with self._lock:
            for gone in set(self._entries) - set(slugs):
                del self._entries[gone]
        return sorted(pages, key=lambda p: p.article.title.lower())

    def _page(self, loader: ContentLoader, file: ContentFile, slugs: dict[str, str]) -> Page | None:
        try:
            stat = file.path.stat()
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size, file.slug)
        key = str(file.rel)
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry.stamp == stamp:
            return entry.page
        page: Page | None = None
        try:
            with self._lock:  # one parse at a time: the parser's renderer is shared
                parsed = loader.page(file)
                body = render_page(loader.markdown, parsed, slugs)
                base = link_base(loader.site, parsed.article)
                page = Page(parsed.article, body, tuple(parsed.tokens), base)
        except ContentError as exc:
            log.warning("demo site skips %s: %s", file.rel, exc)
        with self._lock:
            self._entries[key] = _Entry(stamp, page)
        return page
