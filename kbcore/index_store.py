"""The storage port: everything the indexer, the retriever and the service ask of the
vector store, in the project's own terms (index versions, points, hybrid queries).

Two adapters implement it, and nothing above this module knows which one runs:

- ``kbcore.stores.edge.EdgeStore``: Qdrant Edge (Qdrant's own engine in-process), the
  embedded default; one shard directory per index version, the serving version named
  by an atomically replaced pointer file, the manifest as JSON beside the shard;
- ``kbcore.stores.qdrant.QdrantStore``: qdrant-client against a Qdrant server or
  cluster (or its local mode); one collection per version, an alias naming the serving
  one, the manifest in the collection's metadata.

Retrieval fuses the candidates by reciprocal rank itself (``kbcore.retrieval``), so the
ranking is the same whichever engine found them. An index version is written once
(``create`` → ``upsert`` → ``finish``) and then only read; ``switch`` makes it the
serving one atomically.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from kbcore.schema import IndexManifest
from kbcore.sparse import SparseVector

Matrix = np.ndarray[Any, np.dtype[np.float32]]


@dataclass(frozen=True)
class StoredPoint:
    """A chunk as stored: its id, both vectors, its payload and, where the embedder
    gives them, the vectors of its heading path and sentences (``SENTENCE_VECTORS``)."""

    id: str
    dense: list[float]
    sparse: SparseVector
    payload: dict[str, Any]
    sentences: list[list[float]] | None = None


def sentence_matrix(vectors: object, name: str) -> Matrix | None:
    """The named multivector of a record's vectors as a matrix (``None`` when absent)."""
    rows = vectors.get(name) if isinstance(vectors, dict) else None
    return np.asarray(rows, dtype=np.float32) if isinstance(rows, list) and rows else None


@dataclass(frozen=True)
class ScoredHit:
    """A point a query found, with its score (and payload when asked for)."""

    id: str
    score: float
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class CandidateQuery:
    """Dense and/or sparse nearest neighbours of a query, optionally only among points
    carrying any of ``tags``."""

    dense: list[float] | None
    sparse: SparseVector | None
    limit: int
    tags: Sequence[str] = ()


@dataclass(frozen=True)
class Candidates:
    """Each signal's best points, best first (equal scores in id order)."""

    dense: list[ScoredHit] = field(default_factory=list)
    sparse: list[ScoredHit] = field(default_factory=list)


# Scores tie (BM25 on short texts, or the same text twice); each adapter fetches this many
# extra and orders ties by id, so every engine returns the same candidates.
TIE_MARGIN = 10


def settle_ties(hits: Sequence[ScoredHit], limit: int) -> list[ScoredHit]:
    """Hits best first, equal scores (to 6 decimals: engines differ in float width)
    ordered by id, cut to ``limit``."""
    return sorted(hits, key=lambda h: (-round(h.score, 6), h.id))[:limit]


class IndexStore(Protocol):
    """Index versions and their points (see the module docstring)."""

    @property
    def exclusive(self) -> bool:
        """True when this process alone writes the store (embedded): any unfinished
        version is a dead build. On a shared server only old ones are."""
        ...

    def serving(self) -> str | None:
        """The version queries are answered from, or ``None`` before the first build."""
        ...

    def versions(self) -> list[str]:
        """Every version present (serving, rollback targets, unfinished builds)."""
        ...

    def manifest(self, version: str) -> IndexManifest | None:
        """What built a version (``None`` when it records nothing)."""
        ...

    def set_manifest(self, version: str, manifest: IndexManifest) -> None:
        """Record what built a version."""
        ...

    def create(
        self,
        version: str,
        manifest: IndexManifest,
        base: str | None = None,
        carry: Mapping[str, dict[str, Any]] | None = None,
    ) -> int:
        """A new, unpublished version holding the points of ``base`` whose ids are in
        ``carry``, with their vectors and the payloads ``carry`` gives them. Returns how
        many points were carried."""
        ...

    def drop(self, version: str) -> None:
        """Remove a version (never the serving one)."""
        ...

    def switch(self, version: str) -> None:
        """Serve ``version`` from now on, in one atomic step."""
        ...

    def upsert(self, version: str, points: Sequence[StoredPoint]) -> None:
        """Write points into an unpublished version."""
        ...

    def finish(self, version: str) -> None:
        """Make a written version durable and fast to query before it is published."""
        ...

    def candidates(self, version: str, query: CandidateQuery) -> Candidates:
        """Each signal's nearest points (``settle_ties`` order), in one round trip."""
        ...

    def payloads(self, version: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The payloads of points by id (missing ids are left out)."""
        ...

    def sentence_vectors(self, version: str, ids: Sequence[str]) -> dict[str, Matrix]:
        """The heading-and-sentence vectors of points by id, one row each (points stored
        without them, and missing ids, are left out)."""
        ...

    def nearest(
        self, version: str, vectors: Sequence[list[float]], limit: int, skip_kind: str
    ) -> list[list[ScoredHit]]:
        """Dense nearest neighbours of each vector, ignoring points of ``skip_kind``."""
        ...

    def scroll(
        self, version: str, fields: Sequence[str], batch: int = 1024
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every point's id and the selected payload fields."""
        ...

    def count(self, version: str) -> int:
        """Points in a version."""
        ...

    def dense_size(self, version: str) -> int | None:
        """Dimension of a version's dense vectors."""
        ...

    def discard_damaged(self) -> list[str]:
        """Remove versions whose stored files cannot be read and a serving pointer that
        names a missing version (``kb ingest --rebuild`` starts over); what was removed."""
        ...

    def close(self) -> None:
        """Release files, locks and connections."""
        ...
