"""Opens the configured index store: Qdrant Edge in the data folder by default, a Qdrant
server when ``KB_QDRANT_URL`` is set. Both are ``IndexStore``s; nothing else cares which.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from qdrant_client import QdrantClient

from kbcore.errors import StoreUnavailableError
from kbcore.index_store import IndexStore
from kbcore.settings import Settings
from kbcore.stores.edge import EdgeStore
from kbcore.stores.qdrant import SERVER_ERRORS, QdrantStore

log = logging.getLogger(__name__)
LEGACY_FOLDER = "qdrant"  # qdrant-client local mode, used by releases before Qdrant Edge


def open_store(settings: Settings) -> IndexStore:
    """Connect to the configured store; a folder held by another process is a clear error.

    A server is waited for (it may still be starting, as under docker-compose) for up to
    ``settings.qdrant_connect_timeout_s``.
    """
    if settings.qdrant_url:
        return QdrantStore(_server_client(settings), settings.collection)
    store = EdgeStore(settings.embedded_index_path)
    legacy = settings.data_dir / LEGACY_FOLDER
    if legacy.is_dir():
        if store.serving() is None:
            log.warning(
                "%s holds an index built by an earlier release (qdrant-client local mode); "
                "it is rebuilt with Qdrant Edge in %s and then removed",
                legacy,
                settings.embedded_index_path,
            )
        else:
            shutil.rmtree(legacy, ignore_errors=True)
            log.info("removed the earlier release's index in %s", legacy)
    return store


def open_scratch_store() -> tuple[IndexStore, Path]:
    """An embedded store in a fresh temporary folder (tests, evaluation); the caller
    removes the folder after closing the store."""
    folder = Path(tempfile.mkdtemp(prefix="kb-index-"))
    return EdgeStore(folder), folder


def open_local_qdrant(alias: str) -> IndexStore:
    """qdrant-client's in-memory local mode behind the port (congruence tests: it stands
    in for a Qdrant server, which cannot run here)."""
    return QdrantStore(QdrantClient(location=":memory:"), alias, exclusive=True)


def _server_client(settings: Settings) -> QdrantClient:
    key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    client = QdrantClient(url=settings.qdrant_url, api_key=key, timeout=10)
    deadline = time.monotonic() + settings.qdrant_connect_timeout_s
    while True:
        try:
            client.get_collections()
            return client
        except SERVER_ERRORS as exc:
            if time.monotonic() >= deadline:
                client.close()
                raise StoreUnavailableError(
                    f"cannot reach Qdrant at {settings.qdrant_url}"
                ) from exc
            time.sleep(1.0)
