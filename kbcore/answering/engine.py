"""The chat pipeline shared by `POST /v1/chat`, `kb ask` and `kb eval`:

rewrite follow-up -> retrieve sections -> check support -> answer (extractive or LLM)
-> verify citations -> answer, or refuse honestly with suggestions.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from cachetools import LRUCache

from kbcore.answering.citations import verify
from kbcore.answering.extractive import Draft, ExtractiveAnswerer
from kbcore.answering.llm import NOT_COVERED, LLMAnswerer, MarkerFilter
from kbcore.answering.models import Answer, Refusal, RefusalCode, Suggestion, Turn
from kbcore.answering.rewrite import (
    Rewrite,
    last_user_question,
    rewrite_follow_up,
)
from kbcore.answering.scoring import SentenceScorer
from kbcore.answering.sources import Source, text_chunks
from kbcore.answering.support import MIN_DENSE, SUPPORT_SOURCES, Support, assess
from kbcore.answering.vocabulary import Vocabulary, build_vocabulary
from kbcore.embedding.base import Vectors
from kbcore.retrieval import Retriever, SectionHit
from kbcore.settings import Settings

log = logging.getLogger(__name__)
SOURCES = 6  # sections the answer is chosen from (5 -> 6: see the README quality notes)
# A short message that finds a section at least this close on its own is a question of
# its own, not a follow-up ("what value of k?" finds the FAQ entry that answers it).
STANDALONE_SIMILARITY = 0.45
FOCUS_SHARE = 0.7
STREAM_PIECE = 48
WARM_LIMIT = 6000  # characters per delta when streaming an extractive answer
Event = tuple[str, dict[str, Any]]
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
    version: str
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
    llm: LLMAnswerer | None = None
    _vocabularies: LRUCache[str, Vocabulary] = field(
        default_factory=lambda: LRUCache(VOCABULARY_CACHE)
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.scorer is None:
            self.scorer = SentenceScorer(self.retriever.embedder, self.retriever.encoder)
        if self.extractive is None:
            self.extractive = ExtractiveAnswerer(self.scorer)

    def vocabulary(self, version: str) -> Vocabulary:
        """Term statistics of an index version (built once per version)."""
        with self._lock:
            cached = self._vocabularies.get(version)
        if cached is not None:
            return cached
        built = build_vocabulary(self.retriever.store, version, self.retriever.encoder)
        with self._lock:
            self._vocabularies[version] = built
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
        version = self.retriever.resolve()
        if rewrite.elliptical and self._stands_alone(message, version):
            rewrite = Rewrite(query=message, context="")
        with self.retriever.observer.stage("embedding"):
            vector = self.retriever.embedder.embed_query(rewrite.query)
        result = self.retriever.search(
            rewrite.query, k=self.sources, tags=tags, version=version, query_vector=vector
        )
        sources = [
            Source(number=i + 1, hit=hit, chunks=text_chunks(hit))
            for i, hit in enumerate(result.hits)
        ]
        vocabulary = self.vocabulary(version)
        floor = vocabulary.floor if vocabulary.floor is not None else self.min_dense
        support = assess(rewrite.query, sources, floor, vocabulary, message, self.retriever.encoder)
        return Prepared(
            message=message,
            rewrite=rewrite,
            query_vector=vector,
            hits=result.hits,
            sources=sources,
            version=version,
            index_version=result.index_version,
            vocabulary=vocabulary,
            support=support,
        )

    def _stands_alone(self, message: str, version: str) -> bool:
        """Whether a short message finds a close section by itself."""
        hits = self.retriever.search(message, k=SUPPORT_SOURCES, version=version).hits
        return max((h.dense_score or 0.0 for h in hits), default=0.0) >= STANDALONE_SIMILARITY

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
            detail = (
                "the language model found no answer in the closest sections"
                if draft.mode == "llm"
                else "no sentence of the closest sections could be verified as an answer"
            )
            return self.refusal(prepared, Refusal(RefusalCode.UNVERIFIED, detail))
        return Answer(
            answer=text,
            citations=citations,
            grounded=True,
            suggestions=[],
            index_version=prepared.index_version,
            query=prepared.rewrite.query,
            answerer=draft.mode,
        )

    def warm(self, limit: int = WARM_LIMIT, stop: threading.Event | None = None) -> int:
        """Embed the served version's headings and quotable sentences ahead of questions,
        so first-time questions answer as fast as repeated ones. Skipped for knowledge
        bases with more than ``limit`` sentences. Returns the number of texts embedded."""
        assert self.scorer is not None
        version = self.retriever.resolve()
        self.vocabulary(version)
        texts: dict[str, None] = {}
        fields = ["text", "sentences", "heading", "kind"]
        for _, payload in self.retriever.store.scroll(version, fields):
            if payload.get("kind") == "question":
                continue
            texts[str(payload.get("heading", ""))] = None
            text = str(payload.get("text", ""))
            for start, end in payload.get("sentences") or []:
                texts[text[start:end]] = None
            if len(texts) > limit:
                return 0
        items = list(texts)
        for start in range(0, len(items), 64):
            if stop is not None and stop.is_set():
                return start
            self.scorer.similarity(
                np.zeros(self.retriever.embedder.dim, np.float32), items[start : start + 64]
            )
        return len(items)

    @property
    def answerer(self) -> str:
        """Which answerer runs: "llm" when a model is configured, else "extractive"."""
        return "llm" if self.llm is not None else "extractive"

    async def rewrite(self, message: str, history: Sequence[Turn]) -> Rewrite:
        """Standalone query for a follow-up: the LLM's rewrite when configured, otherwise
        (or if the model fails) the deterministic one."""
        fallback = rewrite_follow_up(message, history, self.retriever.encoder)
        if self.llm is None or not fallback.context:
            return fallback
        rewritten = await self.llm.rewrite(message, history)
        if not rewritten:
            return fallback
        return Rewrite(query=rewritten, context=last_user_question(history))

    async def aanswer(
        self,
        message: str,
        history: Sequence[Turn] = (),
        tags: Sequence[str] | None = None,
    ) -> Answer:
        """The answer, with the LLM when configured (not streamed)."""
        answer: Answer | None = None
        async for name, data in self.astream(message, history, tags):
            if name == "answer":
                answer = data["answer"]
        assert answer is not None
        return answer

    async def astream(
        self,
        message: str,
        history: Sequence[Turn] = (),
        tags: Sequence[str] | None = None,
    ) -> AsyncIterator[Event]:
        """Events of one answer: ``meta``, ``delta``..., ``citations``, then ``answer``
        (the verified Answer object; the HTTP layer turns it into ``done``)."""
        rewrite = await self.rewrite(message, history)
        prepared = await asyncio.to_thread(self.prepare, message, history, tags, rewrite)
        yield "meta", {"index_version": prepared.index_version, "answerer": self.answerer}
        if not prepared.support.grounded:
            answer = self.refusal(prepared, prepared.support.refusal)
            for piece in _pieces(answer.answer):
                yield "delta", {"text": piece}
        elif self.llm is None:
            assert self.extractive is not None
            draft = await asyncio.to_thread(
                self.extractive.draft,
                message,
                self.focus_vector(prepared),
                prepared.sources,
                prepared.vocabulary,
                prepared.rewrite.context,
            )
            answer = self.finish(prepared, draft)
            for piece in _pieces(answer.answer):
                yield "delta", {"text": piece}
        else:
            question = prepared.rewrite.query if prepared.rewrite.context else message
            marker_filter = MarkerFilter({s.number for s in prepared.sources})
            text: list[str] = []
            pending = ""  # leading text held back while it could be the NOT_COVERED reply
            released = False
            streamed = False
            async for delta in self.llm.stream(question, prepared.sources):
                text.append(delta)
                if not released:
                    pending += delta
                    head = pending.lstrip()
                    if NOT_COVERED.startswith(head) or head.startswith(NOT_COVERED):
                        continue
                    released, delta, pending = True, pending, ""
                visible = marker_filter.feed(delta)
                if visible:
                    streamed = True
                    yield "delta", {"text": visible}
            tail = marker_filter.flush() if released else ""
            if tail:
                yield "delta", {"text": tail}
            answer = self.finish(prepared, self.llm.draft("".join(text), prepared.sources))
            if not answer.grounded and not streamed:
                for piece in _pieces(answer.answer):
                    yield "delta", {"text": piece}
        self.retriever.observer.answered(
            answer.grounded, answer.refusal.code.value if answer.refusal else None
        )
        yield "citations", {"citations": [c.to_json() for c in answer.citations]}
        yield "answer", {"answer": answer}

    def refusal(self, prepared: Prepared, why: Refusal | None) -> Answer:
        """An honest "not covered", with the nearest articles as suggestions."""
        if why is not None:
            log.info("refused (%s): %s; query %r", why.code.value, why.detail, prepared.message)
        suggestions = suggest(prepared.hits)
        return Answer(
            answer=REFUSAL_WITH_SUGGESTIONS if suggestions else REFUSAL,
            citations=[],
            grounded=False,
            suggestions=suggestions,
            index_version=prepared.index_version,
            query=prepared.rewrite.query,
            answerer="refusal",
            refusal=why,
        )


def _pieces(text: str, size: int = STREAM_PIECE) -> list[str]:
    """Split text at spaces into deltas of about ``size`` characters."""
    pieces: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if len(candidate) > size and current:
            pieces.append(current + " ")
            current = word
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def suggest(hits: Sequence[SectionHit], limit: int = SUGGESTIONS) -> list[Suggestion]:
    """Up to ``limit`` distinct articles among the hits, best first."""
    out: list[Suggestion] = []
    for hit in hits:
        if all(s.article != hit.article for s in out):
            out.append(Suggestion(hit.article, hit.title, hit.page_url, hit.path))
        if len(out) >= limit:
            break
    return out


def build_chat_engine(retriever: Retriever, settings: Settings) -> ChatEngine:
    """The engine with the LLM answerer when one is configured, extractive otherwise."""
    llm = None
    if settings.llm_enabled:
        from kbcore.answering.llm import build_llm

        llm = LLMAnswerer(build_llm(settings), retriever.encoder, settings.llm_timeout_s)
    return ChatEngine(retriever=retriever, llm=llm)
