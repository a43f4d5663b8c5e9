"""BM25-style sparse vectors for Qdrant's sparse index (``modifier=IDF``).

Documents carry the BM25 term-frequency part, ``tf * (k1 + 1) / (tf + k1 * norm)``;
Qdrant multiplies in the IDF it keeps for the collection, so the dot product with a
query vector of ones is the BM25 score. Terms are lower-cased, stop-word filtered,
Snowball-stemmed and hashed to 32-bit ids.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import Stemmer

SPARSE_MODEL_ID = "bm25-snowball-en-crc32-v2"
_WORD = re.compile(r"[^\W_]+(?:[-'.][^\W_]+)*", re.UNICODE)
_STOPWORDS_FILE = Path(__file__).resolve().parent / "assets" / "stopwords_en.txt"


@dataclass(frozen=True)
class SparseVector:
    """Parallel lists of term ids and weights, as Qdrant expects them."""

    indices: list[int]
    values: list[float]


@dataclass
class BM25Encoder:
    """Encodes texts as sparse BM25 vectors; ``avgdl`` is fixed per index version."""

    k1: float = 1.2
    b: float = 0.75
    avgdl: float = 100.0
    _stemmer: Stemmer.Stemmer = field(default_factory=lambda: Stemmer.Stemmer("english"))

    @cached_property
    def _stopwords(self) -> frozenset[str]:
        return frozenset(_STOPWORDS_FILE.read_text(encoding="utf-8").split())

    def terms(self, text: str) -> list[str]:
        """Lower-cased, stop-word filtered, stemmed terms of ``text`` (hyphenated words also
        contribute their parts, so "fine-tuning" matches "fine tuning")."""
        words: list[str] = []
        for match in _WORD.finditer(text.lower()):
            word = match.group(0).strip(".'")
            tokens = [word]
            if "-" in word:
                # "fine-tuning" also indexes "fine", "tuning" and "finetuning", so it
                # matches "fine tuning" and "finetune" too.
                tokens.extend(part for part in word.split("-") if part)
                tokens.append(word.replace("-", ""))
            for token in tokens:
                if token and token not in self._stopwords:
                    words.append(token)
        return list(self._stemmer.stemWords(words))

    def document_length(self, text: str) -> int:
        """Number of indexed terms, the length BM25 normalises by."""
        return len(self.terms(text))

    def encode_document(self, text: str) -> SparseVector:
        """BM25 term-frequency weights of a passage."""
        counts = Counter(self.terms(text))
        length = sum(counts.values())
        norm = 1 - self.b + self.b * (length / self.avgdl if self.avgdl > 0 else 1.0)
        weights: dict[int, float] = {}
        for term, tf in counts.items():
            term_id = _term_id(term)
            weight = tf * (self.k1 + 1) / (tf + self.k1 * norm)
            weights[term_id] = weights.get(term_id, 0.0) + weight
        return SparseVector(indices=list(weights), values=list(weights.values()))

    def encode_query(self, text: str) -> SparseVector:
        """A query vector: weight 1 per distinct term (IDF comes from Qdrant)."""
        ids = sorted({_term_id(term) for term in self.terms(text)})
        return SparseVector(indices=ids, values=[1.0] * len(ids))


def _term_id(term: str) -> int:
    return zlib.crc32(term.encode("utf-8"))
