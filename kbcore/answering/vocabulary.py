"""Per-version statistics of an index: document frequencies of stemmed terms (to weight
query terms) and of whole words (to tell a name the corpus never uses from a word it uses
everywhere), and the version's calibrated refusal floor."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from kbcore.index_store import IndexStore
from kbcore.sparse import BM25Encoder

_WORD = re.compile(r"\w+(?:[-'.]\w+)*", re.UNICODE)


@dataclass(frozen=True)
class Vocabulary:
    """Document frequencies of stemmed terms and of whole lower-cased words."""

    documents: int
    frequencies: Counter[str]
    words: Counter[str] = field(default_factory=Counter)
    floor: float | None = None

    def word_share(self, word: str) -> float:
        """Share of the version's chunks that use ``word``."""
        return self.words.get(word, 0) / self.documents

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
        if "." in word:  # "BaseModel.model_dump" also names "model_dump"
            out.extend(part for part in word.split(".") if part)
    return out


def build_vocabulary(store: IndexStore, version: str, encoder: BM25Encoder) -> Vocabulary:
    """Scan a version's stored texts once (versions never change, so cache the result)."""
    frequencies: Counter[str] = Counter()
    words: Counter[str] = Counter()
    documents = 0
    for _, payload in store.scroll(version, ["text", "heading_path", "kind"]):
        if payload.get("kind") != "question":
            documents += 1
            text = f"{payload.get('heading_path', '')}\n{payload.get('text', '')}"
            frequencies.update(set(encoder.terms(text)))
            words.update(set(words_of(text)))
    manifest = store.manifest(version)
    return Vocabulary(
        documents=max(documents, 1),
        frequencies=frequencies,
        words=words,
        floor=manifest.refusal_floor if manifest is not None else None,
    )
