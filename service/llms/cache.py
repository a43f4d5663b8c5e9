"""``/llms.txt`` and ``/llms-full.txt``, built once per served index version.

A version is immutable, so its files are built on the first request after it starts to
serve (after every switch: the new version is a new key) and kept for the few most recent
versions and public addresses.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cachetools import LRUCache

from kbcore.catalog import ArticleInfo
from service.llms.build import full_entry, llms_full, llms_txt, missing_entry
from service.site.content import SiteContent
from service.site.markdown import MarkdownNotFoundError, read_markdown

log = logging.getLogger(__name__)
KEEP = 4


def strong_etag(text: str) -> str:
    """A strong ETag for a text body."""
    return f'"{hashlib.sha256(text.encode()).hexdigest()[:32]}"'


@dataclass(frozen=True)
class LlmsFiles:
    """Both files of one index version."""

    index_version: str
    llms_txt: str
    llms_full: str
    llms_txt_etag: str
    llms_full_etag: str


@dataclass(frozen=True)
class LlmsSource:
    """What the files are built from: one index version's articles and the content folder."""

    index_version: str
    catalog: Mapping[str, ArticleInfo]
    site: SiteContent
    content_dir: Path
    name: str
    model_id: str


def build_files(source: LlmsSource, base: str) -> LlmsFiles:
    """Both files for ``source`` with links under ``base`` (blocking: reads every article)."""
    entries = []
    for info in source.catalog.values():
        try:
            doc = read_markdown(
                source.site, source.content_dir, info, catalog=source.catalog, base=base
            )
            entries.append(full_entry(doc, base))
        except MarkdownNotFoundError as exc:
            log.warning("llms-full.txt: %s", exc)
            entries.append(missing_entry(info, base))
    short = llms_txt(source.name, source.catalog, base, source.model_id)
    full = llms_full(source.name, len(source.catalog), entries)
    return LlmsFiles(
        index_version=source.index_version,
        llms_txt=short,
        llms_full=full,
        llms_txt_etag=strong_etag(short),
        llms_full_etag=strong_etag(full),
    )


@dataclass
class LlmsCache:
    """Built files by (index version, public base URL), most recent few kept."""

    _files: LRUCache[tuple[str, str], LlmsFiles] = field(default_factory=lambda: LRUCache(KEEP))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, source: LlmsSource, base: str) -> LlmsFiles:
        """The files of ``source``'s version, built on first use (blocking)."""
        key = (source.index_version, base)
        with self._lock:
            cached = self._files.get(key)
        if cached is not None:
            return cached
        built = build_files(source, base)
        with self._lock:
            self._files[key] = built
        return built
