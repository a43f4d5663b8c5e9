"""Hybrid retrieval: dense and BM25 candidates fused by reciprocal rank in the store, then
collapsed to one hit per article section with each signal's score kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from kbcore.content_files import ContentFiles
from kbcore.embedding.base import Embedder, Vectors
from kbcore.errors import IndexNotFoundError
from kbcore.index_store import CandidateQuery, IndexStore, ScoredHit
from kbcore.observe import NullObserver, Observer
from kbcore.schema import ChunkPayload
from kbcore.sparse import BM25Encoder

SearchMode = Literal["hybrid", "dense", "sparse"]
RRF_K = 2  # reciprocal-rank fusion constant (Qdrant's default, which the index was tuned with)
# A front-matter question that matches lifts its article's sections by this share of its
# own fused score; it is not a section itself (measured on the golden set: hit@1 and
# section hit@3 both improve over either treating it as a section or ignoring it).
QUESTION_BOOST = 0.5


@dataclass
class SectionHit:
    """One article section, ranked; ``chunks`` are its matching chunks, best first."""

    article: str
    title: str
    url: str
    anchor: str
    heading: str
    heading_path: str
    kind: str
    path: str
    page_url: str
    score: float
    dense_score: float | None
    sparse_score: float | None
    chunks: list[ChunkPayload] = field(default_factory=list)
    chunk_ids: list[str] = field(default_factory=list)  # the point id of each chunk

    @property
    def text(self) -> str:
        """Text of the best matching chunk that is article text (not a question phrasing)."""
        for chunk in self.chunks:
            if chunk.kind != "question":
                return chunk.text
        return ""

    def to_json(self) -> dict[str, object]:
        return {
            "article": self.article,
            "title": self.title,
            "heading": self.heading,
            "heading_path": self.heading_path,
            "anchor": self.anchor,
            "url": self.url,
            "path": self.path,
            "text": self.text,
            "score": round(self.score, 6),
            "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
            "sparse_score": None if self.sparse_score is None else round(self.sparse_score, 6),
        }


@dataclass(frozen=True)
class SearchResult:
    """Ranked sections and the index version that produced them."""

    hits: list[SectionHit]
    index_version: str


@dataclass
class Retriever:
    """Searches the served index version."""

    store: IndexStore
    embedder: Embedder
    prefetch_limit: int = 50
    encoder: BM25Encoder = field(default_factory=BM25Encoder)
    observer: Observer = field(default_factory=NullObserver)
    content: ContentFiles | None = None  # set: hits whose source file is gone are dropped

    def resolve(self) -> str:
        """The version being served right now (a request pins it for consistency)."""
        version = self.store.serving()
        if version is None:
            raise IndexNotFoundError("the index is empty; run `kb ingest` first")
        return version

    def search(
        self,
        query: str,
        k: int = 5,
        tags: Sequence[str] | None = None,
        mode: SearchMode = "hybrid",
        version: str | None = None,
        query_vector: Vectors | None = None,
        depth: int = 4,
    ) -> SearchResult:
        """Top ``k`` sections for ``query`` (``query_vector``: its embedding, if known),
        from the best ``depth * k`` chunks (deeper: more of each section's chunks)."""
        version = version or self.resolve()
        dense: list[float] | None = None
        if mode != "sparse":
            if query_vector is None:
                with self.observer.stage("embedding"):
                    query_vector = self.embedder.embed_query(query)
            dense = query_vector.tolist()
        limit = max(k * depth, 20)
        with self.observer.stage("retrieval"):
            sparse = self.encoder.encode_query(query) if mode != "dense" else None
            found = self.store.candidates(
                version,
                CandidateQuery(
                    dense=dense,
                    sparse=sparse,
                    limit=max(self.prefetch_limit, limit),
                    tags=tuple(tags or ()),
                ),
            )
            ranked = fuse([found.dense, found.sparse], limit)
            payloads = self.store.payloads(version, [hit.id for hit in ranked])
        points = [
            ScoredHit(hit.id, hit.score, payloads[hit.id]) for hit in ranked if hit.id in payloads
        ]
        dense_scores = {hit.id: hit.score for hit in found.dense}
        sparse_scores = {hit.id: hit.score for hit in found.sparse}
        hits = _collapse(points, dense_scores, sparse_scores)
        if self.content is not None and hits:
            present = self.content.present({hit.path for hit in hits})
            hits = [hit for hit in hits if hit.path in present]
        return SearchResult(hits=hits[:k], index_version=version)


def fuse(lists: Sequence[Sequence[ScoredHit]], limit: int, k: int = RRF_K) -> list[ScoredHit]:
    """Reciprocal-rank fusion: each point scores the sum of ``1 / (k + rank)`` over the
    lists it is in (rank from 1); a single list keeps its own scores. Equal scores go to
    the point ranked higher by the first list (dense), then by id, on every engine."""
    present = [ranking for ranking in lists if ranking]
    if len(present) == 1:
        return list(present[0][:limit])
    scores: dict[str, float] = {}
    first: dict[str, int] = {hit.id: rank for rank, hit in enumerate(present[0])} if present else {}
    for ranking in present:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (k + rank)
    ordered = sorted(
        scores.items(),
        key=lambda item: (-round(item[1], 9), first.get(item[0], len(first)), item[0]),
    )
    return [ScoredHit(i, s) for i, s in ordered[:limit]]


def _collapse(
    points: Sequence[ScoredHit],
    dense_scores: dict[str, float],
    sparse_scores: dict[str, float],
) -> list[SectionHit]:
    """One hit per (article, anchor), keeping the best fused score and each signal's best."""
    sections: dict[tuple[str, str], SectionHit] = {}
    questions: dict[str, tuple[float, str]] = {}
    for point in points:
        if not point.payload:
            continue
        chunk = ChunkPayload.model_validate(point.payload)
        if chunk.kind == "question":
            questions.setdefault(chunk.article, (point.score, chunk.text))
            continue
        key = (chunk.article, chunk.anchor)
        dense = dense_scores.get(str(point.id))
        sparse = sparse_scores.get(str(point.id))
        hit = sections.get(key)
        if hit is None:
            hit = SectionHit(
                article=chunk.article,
                title=chunk.title,
                url=chunk.url,
                anchor=chunk.anchor,
                heading=chunk.heading,
                heading_path=chunk.heading_path,
                kind=chunk.kind,
                path=chunk.path,
                page_url=chunk.page_url,
                score=point.score,
                dense_score=dense,
                sparse_score=sparse,
            )
            sections[key] = hit
        else:
            hit.dense_score = _best(hit.dense_score, dense)
            hit.sparse_score = _best(hit.sparse_score, sparse)
        hit.chunks.append(chunk)
        hit.chunk_ids.append(str(point.id))
    for hit in sections.values():
        if hit.article in questions:
            score, _ = questions[hit.article]
            hit.score += QUESTION_BOOST * score
    return sorted(sections.values(), key=lambda h: -h.score)


def _best(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)
