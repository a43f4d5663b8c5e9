"""The chat pipeline shared by `POST /v1/chat`, `kb ask` and `kb eval`:

rewrite follow-up -> retrieve sections -> check support -> answer (extractive or LLM)
-> verify citations -> answer, or refuse honestly with suggestions.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from kbcore.answering.citations import verify
from kbcore.answering.extractive import Draft, ExtractiveAnswerer
from kbcore.answering.models import Answer, Suggestion, Turn
from kbcore.answering.rewrite import Rewrite, rewrite_follow_up
from kbcore.answering.scoring import SentenceScorer
from kbcore.answering.sources import Source, text_chunks
from kbcore.answering.support import MIN_DENSE, Support, assess
from kbcore.answering.vocabulary import Vocabulary, build_vocabulary
from kbcore.embedding.base import Vectors
from kbcore.retrieval import Retriever, SectionHit
from kbcore.schema import article_url

SOURCES = 5
FOCUS_SHARE = 0.7
SUGGESTIONS = 3
VOCABULARY_CACHE = 4
REFUSAL = "The knowledge base doesn't cover that, so I won't guess."
REFUSAL_WITH_SUGGESTIONS = (
    "The knowledge base doesn't cover that, so I won't guess. These articles are the closest "
    "it has:"
)


@dataclass(frozen=True)
class Prepared:
    """Everything retrieval decided, before any answer is written."""

    message: str
    rewrite: Rewrite
    query_vector: Vectors
    hits: list[SectionHit]
    sources: list[Source]
    collection: str
    index_version: str
    vocabulary: Vocabulary
    support: Support

    @property
    def by_key(self) -> dict[tuple[str, str], Source]:
        return {(s.hit.article, s.hit.anchor): s for s in self.sources}


@dataclass
class ChatEngine:
    """Answers questions from the served index version."""

    retriever: Retriever
    min_dense: float = MIN_DENSE
    sources: int = SOURCES
    scorer: SentenceScorer | None = None
    extractive: ExtractiveAnswerer | None = None
    _vocabularies: OrderedDict[str, Vocabulary] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.scorer is None:
            self.scorer = SentenceScorer(self.retriever.embedder, self.retriever.encoder)
        if self.extractive is None:
            self.extractive = ExtractiveAnswerer(self.scorer)

    def vocabulary(self, collection: str) -> Vocabulary:
        """Term statistics of an index version (built once per version)."""
        with self._lock:
            cached = self._vocabularies.get(collection)
        if cached is not None:
            return cached
        built = build_vocabulary(self.retriever.client, collection, self.retriever.encoder)
        with self._lock:
            self._vocabularies[collection] = built
            while len(self._vocabularies) > VOCABULARY_CACHE:
                self._vocabularies.popitem(last=False)
        return built

    def prepare(
        self,
        message: str,
        history: Sequence[Turn] = (),
        tags: Sequence[str] | None = None,
        rewrite: Rewrite | None = None,
    ) -> Prepared:
        """Rewrite, retrieve and assess (blocking: run it in a worker thread)."""
        rewrite = rewrite or rewrite_follow_up(message, history, self.retriever.encoder)
        collection = self.retriever.resolve()
        vector = self.retriever.embedder.embed_query(rewrite.query)
        result = self.retriever.search(
            rewrite.query, k=self.sources, tags=tags, collection=collection, query_vector=vector
        )
        sources = [self._source(i + 1, hit, collection) for i, hit in enumerate(result.hits)]
        vocabulary = self.vocabulary(collection)
        support = assess(rewrite.query, sources, self.min_dense)
        return Prepared(
            message=message,
            rewrite=rewrite,
            query_vector=vector,
            hits=result.hits,
            sources=sources,
            collection=collection,
            index_version=result.index_version,
            vocabulary=vocabulary,
            support=support,
        )

    def _source(self, number: int, hit: SectionHit, collection: str) -> Source:
        chunks = text_chunks(hit)
        if not chunks:  # matched only through a front-matter question: quote the overview
            chunks = self.retriever.section_chunks(collection, hit.article, hit.anchor)
        return Source(number=number, hit=hit, chunks=chunks)

    def answer(
        self,
        message: str,
        history: Sequence[Turn] = (),
        tags: Sequence[str] | None = None,
    ) -> Answer:
        """The extractive answer (or a refusal) to ``message``."""
        prepared = self.prepare(message, history, tags)
        if not prepared.support.grounded:
            return self.refusal(prepared)
        assert self.extractive is not None
        draft = self.extractive.draft(
            message,
            self.focus_vector(prepared),
            prepared.sources,
            prepared.vocabulary,
            context=prepared.rewrite.context,
        )
        return self.finish(prepared, draft)

    def focus_vector(self, prepared: Prepared) -> Vectors:
        """What sentences are compared with: for a follow-up, mostly the visitor's own
        words ("does the order matter?"), a little of the question it follows."""
        if not prepared.rewrite.context:
            return prepared.query_vector
        own = self.retriever.embedder.embed_query(prepared.message)
        mixed = FOCUS_SHARE * own + (1 - FOCUS_SHARE) * prepared.query_vector
        vector: Vectors = (mixed / max(float(np.linalg.norm(mixed)), 1e-12)).astype(np.float32)
        return vector

    def finish(self, prepared: Prepared, draft: Draft) -> Answer:
        """Verify a draft; if nothing verifiable remains, refuse."""
        text, citations = verify(draft.text, draft.citations, prepared.by_key)
        if not citations:
            return self.refusal(prepared)
        return Answer(
            answer=text,
            citations=citations,
            grounded=True,
            suggestions=[],
            index_version=prepared.index_version,
            query=prepared.rewrite.query,
            answerer=draft.mode,
            debug={"top_dense": prepared.support.top_dense},
        )

    def refusal(self, prepared: Prepared) -> Answer:
        """An honest "not covered", with the nearest articles as suggestions."""
        suggestions = suggest(prepared.hits)
        return Answer(
            answer=REFUSAL_WITH_SUGGESTIONS if suggestions else REFUSAL,
            citations=[],
            grounded=False,
            suggestions=suggestions,
            index_version=prepared.index_version,
            query=prepared.rewrite.query,
            answerer="refusal",
            debug={
                "top_dense": prepared.support.top_dense,
                "reason": prepared.support.reason,
                "unsupported": prepared.support.unsupported,
            },
        )


def suggest(hits: Sequence[SectionHit], limit: int = SUGGESTIONS) -> list[Suggestion]:
    """Up to ``limit`` distinct articles among the hits, best first."""
    out: list[Suggestion] = []
    for hit in hits:
        if all(s.article != hit.article for s in out):
            out.append(Suggestion(hit.article, hit.title, article_url(hit.article)))
        if len(out) >= limit:
            break
    return out
