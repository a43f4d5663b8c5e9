"""Hybrid retrieval: dense and BM25 candidates fused by reciprocal rank in Qdrant, then
collapsed to one hit per article section with each signal's score kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from qdrant_client import QdrantClient
from qdrant_client import models as qm

from kbcore.embedding.base import Embedder, Vectors
from kbcore.errors import IndexNotFoundError, StoreUnavailableError
from kbcore.schema import DENSE_VECTOR, SPARSE_VECTOR, ChunkPayload, version_of
from kbcore.sparse import BM25Encoder
from kbcore.store import SERVER_ERRORS
from kbcore.versions import serving_collection

SearchMode = Literal["hybrid", "dense", "sparse"]
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


def tag_filter(tags: Sequence[str] | None) -> qm.Filter | None:
    """Sections carrying any of ``tags`` (``None`` when no filter is asked for)."""
    if not tags:
        return None
    return qm.Filter(must=[qm.FieldCondition(key="tags", match=qm.MatchAny(any=list(tags)))])


@dataclass
class Retriever:
    """Searches the served index version."""

    client: QdrantClient
    embedder: Embedder
    alias: str
    prefetch_limit: int = 50
    encoder: BM25Encoder = field(default_factory=BM25Encoder)

    def resolve(self) -> str:
        """The collection the alias serves right now (queries pin it for consistency)."""
        try:
            collection = serving_collection(self.client, self.alias)
        except SERVER_ERRORS as exc:
            raise StoreUnavailableError("the search index did not answer") from exc
        if collection is None:
            raise IndexNotFoundError("the index is empty; run `kb ingest` first")
        return collection

    def search(
        self,
        query: str,
        k: int = 5,
        tags: Sequence[str] | None = None,
        mode: SearchMode = "hybrid",
        collection: str | None = None,
        query_vector: Vectors | None = None,
    ) -> SearchResult:
        """Top ``k`` sections for ``query`` (``query_vector``: its embedding, if known)."""
        collection = collection or self.resolve()
        version = version_of(self.alias, collection) or collection
        flt = tag_filter(tags)
        sparse_q = self.encoder.encode_query(query)
        sparse = qm.SparseVector(indices=sparse_q.indices, values=sparse_q.values)
        dense: list[float] | None = None
        if mode != "sparse":
            vector = query_vector if query_vector is not None else self.embedder.embed_query(query)
            dense = vector.tolist()
        chunk_limit = max(k * 4, 20)
        limit = max(self.prefetch_limit, chunk_limit)
        requests: list[qm.QueryRequest] = []
        if dense is not None:
            requests.append(
                qm.QueryRequest(query=dense, using=DENSE_VECTOR, filter=flt, limit=limit)
            )
        use_sparse = mode != "dense" and bool(sparse.indices)
        if use_sparse:
            requests.append(
                qm.QueryRequest(query=sparse, using=SPARSE_VECTOR, filter=flt, limit=limit)
            )
        if mode == "hybrid" and dense is not None and use_sparse:
            requests.append(
                qm.QueryRequest(
                    prefetch=[
                        qm.Prefetch(query=dense, using=DENSE_VECTOR, filter=flt, limit=limit),
                        qm.Prefetch(query=sparse, using=SPARSE_VECTOR, filter=flt, limit=limit),
                    ],
                    query=qm.FusionQuery(fusion=qm.Fusion.RRF),
                    filter=flt,
                    limit=chunk_limit,
                    with_payload=True,
                )
            )
        if not requests:
            return SearchResult(hits=[], index_version=version)
        # Only the last request's points are returned to the caller: it carries the payload.
        requests[-1] = requests[-1].model_copy(update={"with_payload": True})
        try:
            responses = self.client.query_batch_points(collection, requests=requests)
        except SERVER_ERRORS as exc:
            raise StoreUnavailableError("the search index did not answer") from exc
        dense_scores: dict[str, float] = {}
        sparse_scores: dict[str, float] = {}
        position = 0
        if dense is not None:
            dense_scores = {str(p.id): p.score for p in responses[position].points}
            position += 1
        if use_sparse:
            sparse_scores = {str(p.id): p.score for p in responses[position].points}
            position += 1
        ranked = responses[-1].points[:chunk_limit]
        return SearchResult(
            hits=_collapse(ranked, dense_scores, sparse_scores)[:k], index_version=version
        )


def _collapse(
    points: Sequence[qm.ScoredPoint],
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
