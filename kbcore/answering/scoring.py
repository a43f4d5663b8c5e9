"""Ranks the sentences of retrieved sections for a question: features
(``kbcore.answering.features``) weighed by the fitted sentence ranker
(``kbcore.answering.ranker``).

Sentence and heading vectors come from the index (stored at ingest). Only an index built
by an embedder that gives no span vectors (an embeddings API) needs texts embedded at
question time: at most ``FALLBACK_TEXTS`` per question, kept in a bounded cache.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from cachetools import LRUCache

from kbcore.answering.features import Candidate, FeatureExtractor, Matrix, focus_of
from kbcore.answering.ranker import LinearRanker, shipped_ranker
from kbcore.answering.sources import Sentence, Source
from kbcore.answering.vocabulary import Vocabulary
from kbcore.embedding.base import Embedder, Vectors
from kbcore.sparse import BM25Encoder

CACHE_SIZE = 16384
FALLBACK_TEXTS = 96  # texts embedded per question when the index stores no sentence vectors


@dataclass(frozen=True)
class ScoredSentence:
    """A candidate sentence with its ranker score (log-odds that it answers)."""

    source: Source
    sentence: Sentence
    score: float
    lexical: float
    dense: float

    @property
    def text(self) -> str:
        return self.sentence.text

    @property
    def probability(self) -> float:
        return float(1.0 / (1.0 + np.exp(-self.score)))


@dataclass
class SentenceScorer:
    """Ranks candidate sentences for a question."""

    embedder: Embedder
    encoder: BM25Encoder = field(default_factory=BM25Encoder)
    ranker: LinearRanker = field(default_factory=shipped_ranker)
    _cache: LRUCache[str, Vectors] = field(default_factory=lambda: LRUCache(CACHE_SIZE))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    extractor: FeatureExtractor = field(init=False)

    def __post_init__(self) -> None:
        self.extractor = FeatureExtractor(self.encoder)

    def terms(self, text: str) -> frozenset[str]:
        """The stemmed terms of a text (cached with the rest of what a text is)."""
        assert self.extractor.traits is not None
        return self.extractor.traits.terms(text)

    def features(
        self,
        query: str,
        query_vector: Vectors,
        sources: Sequence[Source],
        vocabulary: Vocabulary,
        context: str = "",
    ) -> tuple[list[Candidate], Matrix]:
        """Every sentence of ``sources`` and its features (what the ranker weighs)."""
        focus = focus_of(query)
        focus_vector = self.embedder.embed_query(focus) if focus != query else None
        return self.extractor.extract(
            query, query_vector, sources, vocabulary, self._vectors, context, focus_vector
        )

    def score(
        self,
        query: str,
        query_vector: Vectors,
        sources: Sequence[Source],
        vocabulary: Vocabulary,
        context: str = "",
    ) -> list[ScoredSentence]:
        """Every sentence of ``sources``, best first (ties in reading order)."""
        candidates, rows = self.features(query, query_vector, sources, vocabulary, context)
        if not candidates:
            return []
        logits = self.ranker.logits(rows)
        lexical = rows[:, self.ranker.features.index("lexical")]
        dense = rows[:, self.ranker.features.index("dense")]
        scored = [
            ScoredSentence(
                c.source, c.sentence, float(logits[i]), float(lexical[i]), float(dense[i])
            )
            for i, c in enumerate(candidates)
        ]
        return sorted(scored, key=lambda s: -s.score)

    def similarity(self, query_vector: Vectors, texts: Sequence[str]) -> list[float]:
        """Cosine similarity of each text to the query (embedded now, cached)."""
        return [float(np.dot(v, query_vector)) for v in self._vectors(list(texts))]

    def _vectors(self, texts: Sequence[str]) -> Vectors:
        """Vectors of ``texts`` from the cache, else embedded now: at most
        ``FALLBACK_TEXTS`` new ones per call (the rest get zero vectors: no similarity)."""
        dim = self.embedder.dim
        out = np.zeros((len(texts), dim), dtype=np.float32)
        if not len(texts):
            return out
        keys = [hashlib.blake2b(t.encode(), digest_size=16).hexdigest() for t in texts]
        with self._lock:
            known = {key: v for key in keys if (v := self._cache.get(key)) is not None}
        missing = [i for i, key in enumerate(keys) if key not in known][:FALLBACK_TEXTS]
        if missing:
            fresh = self.embedder.embed_documents([texts[i] for i in missing])
            with self._lock:
                for row, i in enumerate(missing):
                    known[keys[i]] = fresh[row]
                    self._cache[keys[i]] = fresh[row]
        for i, key in enumerate(keys):
            if key in known:
                out[i] = known[key]
        return out
