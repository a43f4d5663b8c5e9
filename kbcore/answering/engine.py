"""The chat pipeline shared by `POST /v1/chat`, `kb ask` and `kb eval`:

rewrite follow-up -> retrieve sections -> check support -> answer (extractive or LLM)
-> verify citations -> answer, or refuse honestly with suggestions.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from cachetools import LRUCache

from kbcore.answering.answerability import AnswerabilityGate, Evidence, gather, shipped_gate
from kbcore.answering.citations import verify, verify_evidence
from kbcore.answering.claims import ClaimVerifier
from kbcore.answering.extractive import Draft, ExtractiveAnswerer
from kbcore.answering.generated import GeneratedAnswer
from kbcore.answering.llm import LLMAnswerer
from kbcore.answering.models import (
    Answer,
    Refusal,
    RefusalCode,
    Suggestion,
    TokenUsage,
    Turn,
)
from kbcore.answering.rewrite import (
    Rewrite,
    last_user_question,
    rewrite_follow_up,
)
from kbcore.answering.scoring import ScoredSentence, SentenceScorer
from kbcore.answering.signals import YES_NO_QUESTION
from kbcore.answering.sources import Source, text_chunks
from kbcore.answering.support import (
    MIN_DENSE,
    SUPPORT_SOURCES,
    Support,
    asks_price,
    assess,
    refusal_for,
)
from kbcore.answering.vocabulary import Vocabulary, build_vocabulary
from kbcore.embedding.base import Vectors
from kbcore.errors import LLMUnavailableError
from kbcore.retrieval import Retriever, SectionHit
from kbcore.settings import Settings

log = logging.getLogger(__name__)
SOURCES = 6  # sections the answer is chosen from (5 -> 6: see the README quality notes)
# Chunks fused per section asked for: deep enough that a long section brings the chunks
# that hold its answer, not only the one that matched best.
CHUNK_DEPTH = 8
# A short message that finds a section at least this close on its own is a question of
# its own, not a follow-up ("what value of k?" finds the FAQ entry that answers it).
STANDALONE_SIMILARITY = 0.45
FOCUS_SHARE = 0.7
STREAM_PIECE = 48
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
    focus: Vectors  # what sentences are compared with
    ranked: list[ScoredSentence] = field(default_factory=list)  # best first
    evidence: Evidence | None = None  # what the answerability gate saw

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
    gate: AnswerabilityGate = field(default_factory=shipped_gate)
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
            rewrite.query,
            k=self.sources,
            tags=tags,
            version=version,
            query_vector=vector,
            depth=CHUNK_DEPTH,
        )
        sources = self._sources(result.hits, version)
        vocabulary = self.vocabulary(version)
        floor = vocabulary.floor if vocabulary.floor is not None else self.min_dense
        support = assess(rewrite.query, sources, floor, vocabulary, message, self.retriever.encoder)
        focus = self._focus(message, rewrite, vector)
        ranked: list[ScoredSentence] = []
        evidence: Evidence | None = None
        if support.grounded:
            assert self.scorer is not None
            ranked = self.scorer.score(message, focus, sources, vocabulary, rewrite.context)
            evidence = gather(
                message,
                sources,
                ranked,
                floor,
                vocabulary,
                self.scorer.terms,
                support.unsupported,
                support.missing_value,
                bool(YES_NO_QUESTION.match(message)),
            )
            if not self.gate.answers(evidence.features):
                refusal = refusal_for(support, evidence.uncovered, floor)
                support = replace(support, grounded=False, refusal=refusal)
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
            focus=focus,
            ranked=ranked,
            evidence=evidence,
        )

    def _sources(self, hits: Sequence[SectionHit], version: str) -> list[Source]:
        """The hits as numbered sources, with their stored sentence vectors (one read)."""
        ids: dict[str, tuple[int, int]] = {}
        for number, hit in enumerate(hits):
            for chunk, point_id in zip(hit.chunks, hit.chunk_ids, strict=False):
                if chunk.kind != "question":
                    ids[point_id] = (number, chunk.chunk_index)
        with self.retriever.observer.stage("retrieval"):
            stored = self.retriever.store.sentence_vectors(version, list(ids))
        vectors: list[dict[int, Vectors]] = [{} for _ in hits]
        for point_id, rows in stored.items():
            number, chunk_index = ids[point_id]
            vectors[number][chunk_index] = rows
        return [
            Source(number=i + 1, hit=hit, chunks=text_chunks(hit), vectors=vectors[i])
            for i, hit in enumerate(hits)
        ]

    def _stands_alone(self, message: str, version: str) -> bool:
        """Whether a short message finds a close section by itself."""
        hits = self.retriever.search(message, k=SUPPORT_SOURCES, version=version).hits
        return max((h.dense_score or 0.0 for h in hits), default=0.0) >= STANDALONE_SIMILARITY

    def _focus(self, message: str, rewrite: Rewrite, query_vector: Vectors) -> Vectors:
        """What sentences are compared with: for a follow-up, mostly the visitor's own
        words ("does the order matter?"), a little of the question it follows."""
        if not rewrite.context:
            return query_vector
        own = self.retriever.embedder.embed_query(message)
        mixed = FOCUS_SHARE * own + (1 - FOCUS_SHARE) * query_vector
        vector: Vectors = (mixed / max(float(np.linalg.norm(mixed)), 1e-12)).astype(np.float32)
        return vector

    def finish(self, prepared: Prepared, draft: Draft) -> Answer:
        """Verify a draft; if nothing verifiable remains, refuse."""
        sources = prepared.by_key
        text, citations = verify(draft.text, draft.citations, sources)
        evidence = verify_evidence(draft.evidence, sources, len(citations))
        if not citations:
            detail = (
                "the language model found no answer in the closest sections"
                if draft.mode == "llm"
                else "no sentence of the closest sections could be verified as an answer"
            )
            return self.refusal(prepared, Refusal(RefusalCode.UNVERIFIED, detail))
        return Answer(
            answer=text,
            citations=citations + evidence,
            grounded=True,
            suggestions=[],
            index_version=prepared.index_version,
            query=prepared.rewrite.query,
            answerer=draft.mode,
        )

    def warm(self, stop: threading.Event | None = None) -> int:
        """Load what the served version's answers need before the first question (its
        vocabulary; sentence vectors are stored in the index). Returns the number of
        chunks the vocabulary covers."""
        return self.vocabulary(self.retriever.resolve()).documents

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
            answer = self.finish(prepared, await self.extracted(prepared, message))
            for piece in _pieces(answer.answer):
                yield "delta", {"text": piece}
        else:
            question = prepared.rewrite.query if prepared.rewrite.context else message
            generated = GeneratedAnswer(
                self.claims(), prepared.sources, prepared.vocabulary.word_share
            )
            failed = ""
            usage = TokenUsage()
            try:
                async for delta in self.llm.stream(question, prepared.sources, usage):
                    for shown in await asyncio.to_thread(generated.feed, delta):
                        yield "delta", {"text": shown}
            except LLMUnavailableError as exc:  # timed out, refused, died mid-stream
                failed = str(exc)
                log.warning("%s: answering from the sources alone", failed)
            else:
                for shown in await asyncio.to_thread(generated.flush):
                    yield "delta", {"text": shown}
            answer = await self.checked(prepared, generated, message, failed)
            answer = replace(answer, usage=usage)
            if usage.prompt is not None or usage.completion is not None:
                self.retriever.observer.tokens(usage.prompt or 0, usage.completion or 0)
            if generated.kept == 0:  # nothing was shown: the fallback is the whole answer
                for piece in _pieces(answer.answer):
                    yield "delta", {"text": piece}
        self.retriever.observer.answered(
            answer.grounded, answer.refusal.code.value if answer.refusal else None
        )
        yield "citations", {"citations": [c.to_json() for c in answer.citations]}
        yield "answer", {"answer": answer}

    def claims(self) -> ClaimVerifier:
        """The claim verifier of this engine's embedder and vocabulary."""
        return ClaimVerifier(self.retriever.encoder, self.retriever.embedder.embed_documents)

    async def checked(
        self, prepared: Prepared, generated: GeneratedAnswer, message: str, failed: str = ""
    ) -> Answer:
        """The verified answer of a model: its kept claims, or, when none was kept (or the
        model failed before any), the extractive answer, with what verification did."""
        checked = replace(generated.verification(), model_error=failed or None)
        if generated.not_covered and not failed:
            log.info("language model: not covered")
            return self.refusal(
                prepared,
                Refusal(
                    RefusalCode.UNVERIFIED,
                    "the language model found no answer in the closest sections",
                ),
            )
        log.info(
            "language model: %d claims, %d kept, %d removed%s",
            checked.claims,
            checked.kept,
            checked.removed,
            f" ({'; '.join(sorted(set(generated.reasons)))})" if generated.reasons else "",
        )
        if generated.kept:
            answer = self.finish(prepared, generated.draft())
            return replace(answer, verification=checked)
        answer = self.finish(prepared, await self.extracted(prepared, message))
        return replace(answer, verification=replace(checked, fallback=True))

    async def extracted(self, prepared: Prepared, message: str) -> Draft:
        """The extractive answerer's draft (the offline answer, and the language model's
        fallback)."""
        assert self.extractive is not None
        return await asyncio.to_thread(
            self.extractive.draft,
            message,
            prepared.focus,
            prepared.sources,
            prepared.vocabulary,
            prepared.rewrite.context,
            prepared.ranked,
            asks_price(message),
        )

    def refusal(self, prepared: Prepared, why: Refusal | None) -> Answer:
        """An honest "not covered", with the nearest articles as suggestions."""
        if why is not None:
            # The code only: a visitor's words never reach the server log (README, Privacy).
            log.info("refused (%s)", why.code.value)
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
