"""Claim verification: every sentence a language model writes stays in the answer only if
a retrieved section supports it, and its citation quotes the sentence that does.

A claim is checked against the source it cites first, then the other retrieved sources
(a model often cites the wrong number). Two kinds of evidence:

- **Exact facts** (vetoes): every number in the claim must be a number of the source
  (``5000`` is not supported by a source saying ``500``; ``1,000`` = ``1000``), with the
  same unit where the source gives one (``500 MB`` is not ``500 KB``); every code-like
  name (backticked spans, ``snake_case``, ``dotted.names``, ``camelCase``, ``--flags``,
  ``key=value``) must appear in the source; a claim that negates what its best
  supporting sentences say (or the reverse) is not supported.
- **Meaning**: the embedder's cosine between the claim and the source's closest sentence
  (or pair of adjacent sentences), and how many of the claim's content words the source
  holds, combined by a logistic model fitted on labelled claims
  (``eval/claims/claims.jsonl``, leave-one-corpus-out; ``kb eval --claims``), whose
  weights and threshold ship in ``kbcore/assets/claims.json``.

The model is the embedder that already ships with the index, so verification costs one
embedding per claim and works offline.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from kbcore.embedding.base import Vectors
from kbcore.sparse import BM25Encoder

ASSET = Path(__file__).resolve().parents[1] / "assets" / "claims.json"

_DIGITS = re.compile(r"(?<![\w.])\$?(\d+(?:[.,]\d+)*)")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_CODE_WORD = re.compile(
    r"(?<![\w`])("
    r"--?[A-Za-z][\w-]*"  # --flag, -w
    r"|[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+(?:\(\))?"  # dotted.name, module.func()
    r"|[A-Za-z]*_[\w]*"  # snake_case, _private
    r"|[a-z]+[A-Z][A-Za-z0-9]*"  # camelCase
    r"|[A-Za-z_][\w-]*=[^\s,;]+"  # key=value
    r"|[A-Za-z_]\w*\(\)"  # func()
    r")(?![\w`])"
)
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|none|without|neither|nor)\b|n't\b", re.IGNORECASE)
_UNITS = {
    "b": "byte", "byte": "byte", "bytes": "byte",
    "kb": "kb", "kib": "kb", "kilobyte": "kb", "kilobytes": "kb",
    "mb": "mb", "mib": "mb", "megabyte": "mb", "megabytes": "mb",
    "gb": "gb", "gib": "gb", "gigabyte": "gb", "gigabytes": "gb",
    "tb": "tb", "ms": "ms", "millisecond": "ms", "milliseconds": "ms",
    "s": "s", "sec": "s", "second": "s", "seconds": "s",
    "min": "min", "minute": "min", "minutes": "min",
    "h": "h", "hour": "h", "hours": "h", "day": "day", "days": "day",
    "week": "week", "weeks": "week", "month": "month", "months": "month",
    "%": "%", "percent": "%", "px": "px", "pixels": "px", "em": "em", "rem": "rem",
    "token": "token", "tokens": "token", "character": "char", "characters": "char",
    "chars": "char", "space": "space", "spaces": "space", "line": "line", "lines": "line",
    "k": "k", "m": "m", "x": "x",
}  # fmt: skip
_UNIT_AFTER = re.compile(r"\s?(%|[A-Za-z]+)")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


@dataclass(frozen=True)
class Weights:
    """The fitted logistic model over (cosine, coverage of the best window, coverage of
    the whole source) and its threshold."""

    bias: float = -9.0
    cosine: float = 8.0
    window_coverage: float = 4.0
    source_coverage: float = 2.0
    threshold: float = 0.5

    def probability(self, cosine: float, window: float, whole: float) -> float:
        z = (
            self.bias
            + self.cosine * cosine
            + self.window_coverage * window
            + self.source_coverage * whole
        )
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


@lru_cache(maxsize=1)
def shipped_weights() -> Weights:
    """The weights fitted by ``kb eval --claims --fit`` (defaults when none shipped)."""
    try:
        raw = json.loads(ASSET.read_text(encoding="utf-8"))
        return Weights(**{k: float(v) for k, v in raw["weights"].items()})
    except (OSError, ValueError, KeyError, TypeError):
        return Weights()


@dataclass(frozen=True)
class Features:
    """What the meaning model sees of a (claim, source) pair, and the vetoes."""

    cosine: float
    window_coverage: float
    source_coverage: float
    best: int  # index of the closest sentence
    veto: str = ""  # why exact facts rule the source out ("" = none)


@dataclass(frozen=True)
class Verdict:
    """Whether a claim is supported, by which source and sentence, and why not."""

    supported: bool
    source: int | None = None  # the index into the sources checked
    sentence: int | None = None  # the supporting sentence's index in that source
    probability: float = 0.0
    reason: str = ""


@dataclass
class SourceText:
    """A source as the verifier reads it: its sentences (with vectors when the index
    has them) and its whole text."""

    sentences: list[str]
    vectors: Vectors | None = None  # (n, dim), rows normalised; None = embed on demand
    text: str = ""
    _terms: list[set[str]] = field(default_factory=list)
    _numbers: set[str] | None = None

    def __post_init__(self) -> None:
        if not self.text:
            self.text = "\n".join(self.sentences)


def numbers(text: str) -> list[tuple[str, str]]:
    """(number, unit or "") pairs of a text; thousands separators removed."""
    out = []
    for match in _DIGITS.finditer(text):
        raw = match.group(1)
        value = re.sub(r"(?<=\d),(?=\d{3}\b)", "", raw).rstrip(".,")
        unit_match = _UNIT_AFTER.match(text, match.end())
        unit = ""
        if unit_match:
            unit = _UNITS.get(unit_match.group(1).lower(), "")
        if match.group(0).startswith("$"):
            unit = "$"
        out.append((value, unit))
    return out


def code_names(text: str) -> set[str]:
    """Code-like names a claim commits to (backticked spans and identifier shapes)."""
    names = {m.group(1).strip() for m in _CODE_SPAN.finditer(text)}
    bare = _CODE_SPAN.sub(" ", text)
    names |= {m.group(1) for m in _CODE_WORD.finditer(bare) if len(m.group(1)) > 2}
    return {n for n in names if n and not n.isdigit()}


def negated(text: str) -> bool:
    return len(_NEGATION.findall(text)) % 2 == 1


def clean_claim(text: str) -> str:
    """A sentence as a claim: list bullets, bold/italic marks and extra space removed."""
    text = _LIST_MARK.sub("", text)
    text = text.replace("**", "").replace("__", "")
    return " ".join(text.split())


@dataclass
class ClaimVerifier:
    """Checks claims against sources (see the module docstring)."""

    encoder: BM25Encoder
    embed: object  # Callable[[Sequence[str]], Vectors]: normalised document vectors
    weights: Weights = field(default_factory=shipped_weights)

    def _vectors(self, texts: Sequence[str]) -> Vectors:
        vectors: Vectors = self.embed(list(texts))  # type: ignore[operator]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        out: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return out

    def features(self, claim: str, claim_vector: Vectors, source: SourceText) -> Features:
        """The vetoes and the meaning features of one (claim, source) pair."""
        if not source.sentences:
            return Features(0.0, 0.0, 0.0, 0, "the source has no text")
        if source.vectors is None:
            source.vectors = self._vectors(source.sentences)
        if not source._terms:
            source._terms = [set(self.encoder.terms(s)) for s in source.sentences]
        singles = source.vectors @ claim_vector
        sims = singles.copy()
        if len(source.sentences) > 1:  # a claim may join two adjacent sentences
            pairs = source.vectors[:-1] + source.vectors[1:]
            pairs /= np.maximum(np.linalg.norm(pairs, axis=1, keepdims=True), 1e-12)
            paired = pairs @ claim_vector
            sims[:-1] = np.maximum(sims[:-1], paired)
        best = int(np.argmax(sims))
        terms = set(self.encoder.terms(claim))
        window = set().union(*source._terms[max(0, best - 1) : best + 2])
        whole = set().union(*source._terms)
        window_coverage = len(terms & window) / len(terms) if terms else 0.0
        source_coverage = len(terms & whole) / len(terms) if terms else 0.0
        veto = self.veto(claim, source, best)
        return Features(float(sims[best]), window_coverage, source_coverage, best, veto)

    def veto(self, claim: str, source: SourceText, best: int) -> str:
        """Why exact facts rule the source out, or ""."""
        if source._numbers is None:
            source._numbers = {value for value, _ in numbers(source.text)}
        found = numbers(source.text)
        for value, unit in numbers(claim):
            if value not in source._numbers:
                return f"the number {value} is not in the source"
            units = {u for v, u in found if v == value}
            if unit and units - {""} and unit not in units:
                return f"{value} {unit} is not what the source says"
        lowered = source.text.lower()
        for name in code_names(claim):
            if name.lower() not in lowered and name.strip("()").lower() not in lowered:
                return f"{name} is not in the source"
        around = " ".join(source.sentences[max(0, best - 1) : best + 2])
        if negated(claim) != negated(source.sentences[best]) and negated(claim) != negated(around):
            return "the claim negates what the source says"
        return ""

    def checkable(self, claim: str) -> bool:
        """Whether a sentence states anything a source could support (a lead-in such as
        "Here is how:" does not)."""
        text = clean_claim(claim)
        return len(self.encoder.terms(text)) >= 2 or bool(numbers(text) or code_names(text))

    def check(self, claim: str, sources: Sequence[SourceText], cited: Sequence[int]) -> Verdict:
        """The verdict on one claim: the cited sources (indices into ``sources``) are
        tried first, then the others; the best-supported wins."""
        text = clean_claim(claim)
        if not self.encoder.terms(text) and not numbers(text) and not code_names(text):
            return Verdict(False, reason="states nothing that can be checked")
        vector = self._vectors([text])[0]
        order = [i for i in cited if 0 <= i < len(sources)]
        order += [i for i in range(len(sources)) if i not in order]
        best = Verdict(False, reason="no source supports it")
        for index in order:
            features = self.features(text, vector, sources[index])
            probability = self.weights.probability(
                features.cosine, features.window_coverage, features.source_coverage
            )
            if features.veto:
                if best.source is None and not best.probability:
                    best = Verdict(False, index, features.best, 0.0, features.veto)
                continue
            if probability >= self.weights.threshold and (
                not best.supported or probability > best.probability + 0.1
            ):
                best = Verdict(True, index, features.best, probability)
                if index in cited:
                    break  # the cited source supports it: keep the model's citation
            elif not best.supported and probability > best.probability:
                best = Verdict(False, index, features.best, probability, "too weak a match")
        return best
