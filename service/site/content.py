"""The demo site's view of the content folder: parsed and rendered once per file version."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ingest.articles import MAX_FILE_BYTES, Article, content_files, load_article
from ingest.frontmatter import split_front_matter
from kbcore.errors import ContentError
from service.site.render import RenderedBody, render_body

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """An article and its rendered body."""

    article: Article
    body: RenderedBody


@dataclass(frozen=True)
class _Entry:
    stamp: tuple[int, int]
    page: Page | None  # None: empty or malformed file


class SiteContent:
    """Pages of ``content_dir``; a file is re-read only when its mtime or size changes."""

    def __init__(self, content_dir: Path) -> None:
        self.content_dir = content_dir
        self._entries: dict[Path, _Entry] = {}
        self._lock = threading.Lock()

    def pages(self) -> list[Page]:
        """Every article that loads, in title order (a repeated slug keeps the first file)."""
        if not self.content_dir.is_dir():
            return []
        found: dict[str, Page] = {}
        files = content_files(self.content_dir)
        for path in files:
            page = self._page(path)
            if page is not None and page.article.slug not in found:
                found[page.article.slug] = page
        with self._lock:
            for gone in set(self._entries) - set(files):
                del self._entries[gone]
        return sorted(found.values(), key=lambda p: p.article.title.lower())

    def _page(self, path: Path) -> Page | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            entry = self._entries.get(path)
        if entry is not None and entry.stamp == stamp:
            return entry.page
        page = _load(path, stat.st_size)
        with self._lock:
            self._entries[path] = _Entry(stamp, page)
        return page


def _load(path: Path, size: int) -> Page | None:
    if size > MAX_FILE_BYTES:
        return None
    try:
        text = path.read_text(encoding="utf-8-sig")
        article = load_article(path, text)
        if article is None:
            return None
        body = split_front_matter(path, text).body
        return Page(article=article, body=render_body(article, body))
    except (ContentError, OSError, UnicodeDecodeError) as exc:
        log.warning("demo site skips %s: %s", path, exc)
        return None
