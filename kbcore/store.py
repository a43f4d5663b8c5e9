"""Opens Qdrant: embedded (local mode, on disk) by default, a server when a URL is set.

Both paths return the same ``QdrantClient`` API, so every other module runs unchanged.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import httpx
from qdrant_client import QdrantClient
from qdrant_client.http.exceptions import ApiException

from kbcore.errors import StoreUnavailableError
from kbcore.settings import Settings

# Errors a Qdrant server call can end in when the server is down or unreachable.
SERVER_ERRORS: tuple[type[BaseException], ...] = (
    ApiException,
    httpx.HTTPError,
    ConnectionError,
    TimeoutError,
)


def open_client(settings: Settings) -> QdrantClient:
    """Connect to the configured Qdrant; a locked embedded folder is a clear error.

    A server is waited for (it may still be starting, as under docker-compose) for up to
    ``settings.qdrant_connect_timeout_s``.
    """
    if settings.qdrant_url:
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
    path = settings.embedded_qdrant_path
    path.mkdir(parents=True, exist_ok=True)
    try:
        return serialized(QdrantClient(path=str(path)))
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise StoreUnavailableError(
                f"the embedded index in {path} is in use by another process (probably "
                "`kb serve`); embedded Qdrant allows one process per data folder. Stop it, "
                "or ask the running server to do this (e.g. `kb ingest --server URL`)."
            ) from exc
        raise StoreUnavailableError(f"cannot open the embedded index in {path}: {exc}") from exc


def open_memory_client() -> QdrantClient:
    """An in-memory embedded Qdrant (tests, evaluation in a scratch index)."""
    return serialized(QdrantClient(location=":memory:"))


class _SerializedClient:
    """Forwards to a local-mode client, one call at a time.

    Local mode is plain Python over dicts with no locking of its own: a search iterating
    the aliases while a rebuild switches them can fail. A server needs no such lock.
    """

    def __init__(self, client: QdrantClient) -> None:
        self._client = client
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return locked


def serialized(client: QdrantClient) -> QdrantClient:
    """Wrap an embedded client so concurrent threads take turns."""
    return cast(QdrantClient, _SerializedClient(client))


def iter_payloads(
    client: QdrantClient, collection: str, fields: list[str], batch: int = 1024
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every point's id and the selected payload fields, scrolling in batches."""
    offset = None
    while True:
        points, offset = client.scroll(
            collection, limit=batch, offset=offset, with_payload=fields, with_vectors=False
        )
        for point in points:
            yield str(point.id), dict(point.payload or {})
        if offset is None:
            return
