"""The long-lived objects a process needs, built once from Settings and closed together."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from kbcore.embedding.base import Embedder
from kbcore.embedding.factory import build_embedder
from kbcore.index_store import IndexStore
from kbcore.retrieval import Retriever
from kbcore.settings import Settings
from kbcore.store import open_scratch_store, open_store


@dataclass
class Runtime:
    """Index store, embedder and retriever for one process."""

    settings: Settings
    store: IndexStore
    embedder: Embedder
    retriever: Retriever
    scratch: Path | None = None  # a temporary store's folder, removed on close

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        scratch: bool = False,
        embedder: Embedder | None = None,
        store: IndexStore | None = None,
    ) -> Runtime:
        """Open the index store (configured, given, or a scratch one in a temporary
        folder) and load the embedder."""
        embedder = embedder or build_embedder(settings)
        folder: Path | None = None
        if store is None:
            if scratch:
                store, folder = open_scratch_store()
            else:
                store = open_store(settings)
        retriever = Retriever(
            store=store, embedder=embedder, prefetch_limit=settings.prefetch_limit
        )
        return cls(settings, store, embedder, retriever, folder)

    def close(self) -> None:
        """Release the store (and its folder lock; a scratch store's folder is removed)."""
        self.store.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
