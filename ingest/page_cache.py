"""Pages parsed by an earlier build of the same process, reused while nothing they were
read from has changed.

A running service rebuilds its index whenever the docs change (``--watch``, the reindex
endpoint, the CLI in a second terminal). Re-parsing thousands of unchanged files for a
one-article edit would cost more than everything else the edit does, so the service
keeps each file's outcome (its article, warnings and the files it included, or why it
was skipped) and reuses it while:

- the file's size, modification time and page name (slug) are the same;
- every file it included (snippets, partials) has the same size and modification time;
- the site settings are the same (format, docs root, public URL, size cap), as is the
  file's last commit date.

Anything else parses again. A one-shot ``kb ingest`` starts with an empty cache.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from ingest.dialects import DocsSite
from ingest.discovery import ContentFile
from ingest.report import ContentWarning

if TYPE_CHECKING:
    from ingest.articles import Article
    from ingest.chunking import ChunkingConfig, PreparedChunk

FileKey = tuple[str, int, int, dt.date | None]  # slug, size, mtime, commit date
IncludedKey = tuple[tuple[str, int, int], ...]  # (path, size, mtime) of each included file


@dataclass(frozen=True)
class Parsed:
    """What a build keeps of one parsed page."""

    article: Article
    warnings: tuple[ContentWarning, ...]
    included: frozenset[Path]


@dataclass(frozen=True)
class Refused:
    """Why a page could not be indexed (as it was reported)."""

    reason: str


Outcome = Parsed | Refused


def _included_key(paths: Iterable[Path | str]) -> IncludedKey | None:
    key = []
    for name in sorted(str(path) for path in paths):
        try:
            st = os.stat(name)
        except OSError:
            return None
        key.append((name, st.st_size, st.st_mtime_ns))
    return tuple(key)


class PageCache:
    """Each file's last outcome, valid for one site setting at a time (thread-safe)."""

    def __init__(self) -> None:
        self._site: tuple[DocsSite, int] | None = None
        self._entries: dict[PurePosixPath, tuple[FileKey, IncludedKey, Outcome]] = {}
        self._chunks: dict[str, tuple[Article, ChunkingConfig, list[PreparedChunk]]] = {}
        self._lock = threading.Lock()

    def use_site(self, site: DocsSite, max_bytes: int) -> None:
        """Start a build of ``site``: forget everything when its settings changed."""
        with self._lock:
            if self._site != (site, max_bytes):
                self._site = (site, max_bytes)
                self._entries.clear()
                self._chunks.clear()

    def get(self, file: ContentFile, date: dt.date | None) -> Outcome | None:
        """The file's outcome from an earlier build, if nothing it depends on changed."""
        with self._lock:
            entry = self._entries.get(file.rel)
        if entry is None:
            return None
        key, included, outcome = entry
        if key != (file.slug, file.size, file.mtime_ns, date):
            return None
        if included and _included_key(name for name, _, _ in included) != included:
            return None
        return outcome

    def put(self, file: ContentFile, date: dt.date | None, outcome: Outcome) -> None:
        """Remember a file's outcome (and the state of the files it included)."""
        included = _included_key(outcome.included) if isinstance(outcome, Parsed) else ()
        if included is None:
            return  # an included file vanished while parsing: parse again next time
        key = (file.slug, file.size, file.mtime_ns, date)
        with self._lock:
            self._entries[file.rel] = (key, included, outcome)

    def chunks(
        self,
        article: Article,
        config: ChunkingConfig,
        make: Callable[[], list[PreparedChunk]],
    ) -> list[PreparedChunk]:
        """The article's chunks: made again only when the article was parsed again (a
        reused article is the very object chunked last time) or the chunking changed."""
        with self._lock:
            entry = self._chunks.get(article.rel)
        if entry is not None and entry[0] is article and entry[1] == config:
            return entry[2]
        made = make()
        with self._lock:
            self._chunks[article.rel] = (article, config, made)
        return made

    def keep_only(self, files: Iterable[ContentFile]) -> None:
        """Forget files that are gone."""
        present = {file.rel for file in files}
        kept = {str(rel) for rel in present}
        with self._lock:
            for rel in [rel for rel in self._entries if rel not in present]:
                del self._entries[rel]
            for name in [name for name in self._chunks if name not in kept]:
                del self._chunks[name]

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
