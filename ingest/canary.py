"""Canary check of a freshly built index version, before the alias moves to it: a few
golden questions must still find their article."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from kbcore.embedding.base import Embedder
from kbcore.errors import IndexValidationError
from kbcore.index_store import IndexStore
from kbcore.retrieval import Retriever

log = logging.getLogger(__name__)
TOP_K = 5


@dataclass(frozen=True)
class Canary:
    question: str
    article: str


def load_canaries(path: Path, limit: int) -> list[Canary]:
    """The first ``limit`` standalone answerable questions of a golden file (none if the
    file is absent: a site without a golden set simply has no canaries)."""
    if limit <= 0 or not path.is_file():
        return []
    out: list[Canary] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            log.warning("skipping a malformed line of %s", path)
            continue
        if item.get("answerable") and not item.get("follow_up_of") and item.get("article"):
            out.append(Canary(str(item["question"]), str(item["article"])))
        if len(out) >= limit:
            break
    return out


@dataclass
class CanaryValidator:
    """Fails the build when a canary question no longer finds its (still present) article."""

    canaries: list[Canary]
    embedder: Embedder
    top_k: int = TOP_K

    def __call__(self, store: IndexStore, version: str, articles: set[str]) -> None:
        retriever = Retriever(store=store, embedder=self.embedder)
        failed = []
        for canary in self.canaries:
            if canary.article not in articles:
                continue  # the article was removed on purpose
            hits = retriever.search(canary.question, k=self.top_k, version=version).hits
            if canary.article not in {hit.article for hit in hits}:
                failed.append(canary.question)
        if failed:
            raise IndexValidationError(
                f"canary questions no longer find their article: {'; '.join(failed)}"
            )
