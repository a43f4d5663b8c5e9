"""Per-version term statistics (document frequencies) for weighting query terms."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from qdrant_client import QdrantClient

from kbcore.sparse import BM25Encoder
from kbcore.store import iter_payloads

_WORD = re.compile(r"[^\W_]+(?:[-'.][^\W_]+)*", re.UNICODE)


@dataclass(frozen=True)
class Vocabulary:
    """Document frequencies of stemmed terms."""

    documents: int
    frequencies: Counter[str]

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency (never negative)."""
        df = self.frequencies.get(term, 0)
        return math.log(1 + (self.documents - df + 0.5) / (df + 0.5))


def words_of(text: str) -> list[str]:
    """Lower-cased words, hyphenated forms kept whole and also split."""
    out: list[str] = []
    for match in _WORD.finditer(text.lower()):
        word = match.group(0).strip(".'")
        out.append(word)
        if "-" in word:
            out.extend(part for part in word.split("-") if part)
            out.append(word.replace("-", ""))
    return out


def build_vocabulary(client: QdrantClient, collection: str, encoder: BM25Encoder) -> Vocabulary:
    """Scan a version's stored texts once (versions never change, so cache the result)."""
    frequencies: Counter[str] = Counter()
    documents = 0
    for _, payload in iter_payloads(client, collection, ["text", "heading_path", "kind"]):
        if payload.get("kind") != "question":
            documents += 1
            text = f"{payload.get('heading_path', '')}\n{payload.get('text', '')}"
            frequencies.update(set(encoder.terms(text)))
    return Vocabulary(documents=max(documents, 1), frequencies=frequencies)
