"""The long-lived objects a process needs, built once from Settings and closed together."""

from __future__ import annotations

from dataclasses import dataclass

from qdrant_client import QdrantClient

from kbcore.embedding.base import Embedder
from kbcore.embedding.factory import build_embedder
from kbcore.retrieval import Retriever
from kbcore.settings import Settings
from kbcore.store import open_client, open_memory_client


@dataclass
class Runtime:
    """Qdrant client, embedder and retriever for one process."""

    settings: Settings
    client: QdrantClient
    embedder: Embedder
    retriever: Retriever

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        in_memory: bool = False,
        embedder: Embedder | None = None,
    ) -> Runtime:
        """Open Qdrant (embedded on disk, in memory, or a server) and load the embedder."""
        embedder = embedder or build_embedder(settings)
        client = open_memory_client() if in_memory else open_client(settings)
        retriever = Retriever(
            client=client,
            embedder=embedder,
            alias=settings.collection,
            prefetch_limit=settings.prefetch_limit,
        )
        return cls(settings=settings, client=client, embedder=embedder, retriever=retriever)

    def close(self) -> None:
        """Release the Qdrant client (and the embedded storage lock)."""
        self.client.close()
