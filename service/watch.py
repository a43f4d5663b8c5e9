"""`kb serve --watch`: reindex (debounced) when files under the content folder change."""

from __future__ import annotations

import logging
from pathlib import Path

from ingest.discovery import MARKDOWN_SUFFIXES
from service.state import ServiceState

log = logging.getLogger(__name__)


async def watch_content(state: ServiceState) -> None:
    """Watch the content folder until cancelled; each burst of changes (edits, new and
    deleted pages) asks for a reindex."""
    from watchfiles import awatch

    settings = state.settings
    async for changes in awatch(
        settings.content_dir,
        debounce=settings.watch_debounce_ms,
        recursive=True,
        watch_filter=lambda _change, path: Path(path).suffix.lower() in MARKDOWN_SUFFIXES,
    ):
        if not state.builds_index:  # a shared index: the leading replica sees it too
            log.info("content changed (%d files); the leading replica reindexes", len(changes))
            continue
        log.info("content changed (%d files); reindexing", len(changes))
        state.jobs().request("watch")
