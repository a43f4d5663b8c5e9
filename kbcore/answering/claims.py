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
  holds, each above a threshold fitted on labelled claims (``eval/claims/claims.jsonl``,
  validated leave-one-corpus-out by ``kb eval --claims``; ``kbcore/assets/claims.json``).
  Offline, meaning is the weak part: a claim that keeps its source's words but flips what
  they say without a negation word ("raises" for "lowers") passes; the exact checks are
  what catch changed numbers and names.

The model is the embedder that already ships with the index, so verification costs one
embedding per claim and works offline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from kbcore.embedding.base import Vectors
from kbcore.sparse import BM25Encoder

KNOWN_SHARE = 0.05  # a name this share of the docs uses (the product's own) needs no source
ASSET = Path(__file__).resolve().parents[1] / "assets" / "claims.json"

_DIGITS = re.compile(r"(?:(?<=\b[vV])|(?<![\w.]))\$?(\d+(?:[.,]\d+)*)")
_NUMBER_WORDS = {
    "zero": "0", "single": "1", "two": "2", "double": "2", "three": "3",
    "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "ten": "10", "eleven": "11", "twelve": "12", "twenty": "20", "fifty": "50",
    "hundred": "100", "thousand": "1000", "twice": "2", "half": "0.5",
}  # fmt: skip
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
_ANTONYMS = [
    ("required", "optional"), ("enabled", "disabled"), ("enable", "disable"),
    ("true", "false"), ("allowed", "forbidden"), ("before", "after"),
    ("faster", "slower"), ("cheaper", "costlier"), ("cheap", "expensive"),
    ("increase", "decrease"), ("raise", "lower"), ("more", "fewer"), ("more", "less"),
    ("always", "never"), ("synchronous", "asynchronous"), ("sync", "async"),
    ("first", "last"), ("minimum", "maximum"), ("smaller", "larger"), ("inline", "block"),
    ("client", "server"), ("development", "production"), ("dev", "build"),
    ("input", "output"), ("accepts", "rejects"), ("include", "exclude"),
    ("top", "bottom"), ("start", "end"), ("left", "right"), ("deep", "shallow"),
]  # fmt: skip
_WORDS = re.compile(r"[A-Za-z]+")
_PROPER = re.compile(r"(?<=[a-z,;:] )([A-Z][a-zA-Z]+)")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_CODE_WORD = re.compile(
    r"(?<![\w`])("
    r"--?[A-Za-z][\w-]*"  # --flag, -w
    r"|[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+(?:\(\))?"  # dotted.name, module.func()
    r"|[A-Za-z]*_[\w]*"  # snake_case, _private
    r"|[a-z]+[A-Z][A-Za-z0-9]*"  # camelCase
    r"|[A-Za-z_][\w-]*=[^\s,;]+"  # key=value
    r"|[A-Za-z_]\w*\(\)"  # func()
    r"|[A-Za-z]+[\w-]*\d[\w-]*"  # names with digits: k1, LLM01, gpt-4o-mini, all-MiniLM-L6-v2
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
_WORDS_COMMON = (
    "i a the it its this that these those you your we our they their he she "
    "if when while use using set by default for with and or but so to in on "
    "of as at from "
)
_COMMON = frozenset(_WORDS_COMMON.split())
_META = re.compile(
    r"^(?:in\s+)?(?:the|this|these)\s+(?:article|document|documentation|passage|text|"
    r"source|context|section)s?\s+(?:provides?|explains?|describes?|discuss(?:es)?|"
    r"mentions?|covers?|is about|are about|talks? about|gives?|offers?)\b"
    r"|\banswer to (?:this|the|your) question\b",
    re.IGNORECASE,
)
CLAUSE_WORDS = 14  # sentences longer than this are also compared clause by clause
_CLAUSE = re.compile(r"[,;:]\s+|\s+(?:because|while|whereas|but|so that|and then)\s+")
_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


@dataclass(frozen=True)
class Thresholds:
    """How close a claim must be to its source once no exact fact rules it out: the
    embedder's cosine to the closest sentence (or adjacent pair), and the share of the
    claim's content words in that sentence and its neighbours."""

    cosine: float = 0.5
    window_coverage: float = 0.2

    def supports(self, f: Features) -> bool:
        return f.cosine >= self.cosine and f.window_coverage >= self.window_coverage


@lru_cache(maxsize=1)
def shipped_thresholds() -> Thresholds:
    """The thresholds fitted by ``kb eval --claims --fit`` (defaults when none shipped)."""
    try:
        raw = json.loads(ASSET.read_text(encoding="utf-8"))
        return Thresholds(**{k: float(v) for k, v in raw["thresholds"].items()})
    except (OSError, ValueError, KeyError, TypeError):
        return Thresholds()


@dataclass(frozen=True)
class Features:
    """What the meaning model sees of a (claim, source) pair, and the vetoes."""

    cosine: float  # to the closest sentence or pair of adjacent sentences
    window_coverage: float  # share of the claim's terms in the best sentence and neighbours
    source_coverage: float  # share of the claim's terms anywhere in the source
    best: int  # index of the closest sentence
    veto: str = ""  # why exact facts rule the source out ("" = none)


@dataclass(frozen=True)
class Verdict:
    """Whether a claim is supported, by which source and sentence, and why not."""

    supported: bool
    source: int | None = None  # the index into the sources checked
    sentence: int | None = None  # the supporting sentence's index in that source
    similarity: float = 0.0
    reason: str = ""


@dataclass
class SourceText:
    """A source as the verifier reads it: its sentences (with vectors when the index
    has them) and its whole text."""

    sentences: list[str]
    vectors: Vectors | None = None  # (n, dim), rows normalised; None = embed on demand
    text: str = ""
    known: Callable[[str], float] = lambda word: 0.0  # share of the docs using a word
    _terms: list[set[str]] = field(default_factory=list)
    _all_terms: set[str] = field(default_factory=set)
    _plain: str = ""  # the text with ASCII apostrophes and quotes
    _numbers: list[tuple[str, str]] = field(default_factory=list)  # (value, unit)
    _clauses: list[tuple[int, str]] | None = None
    _clause_vectors: Vectors | None = None

    def __post_init__(self) -> None:
        if not self.text:
            self.text = "\n".join(self.sentences)
        self._plain = plain(self.text)
        self._numbers = numbers(self._plain)


def numbers(text: str) -> list[tuple[str, str]]:
    """(number, unit or "") pairs of a text; thousands separators removed; number words
    ("three", "single", "twice") read as their digits."""
    out = [(_NUMBER_WORDS[m.group(1).lower()], "") for m in _NUMBER_WORD.finditer(text)]
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
    """Code-like names a claim commits to: backticked spans (a span with spaces, such as
    ``semi: false``, by its parts) and identifier shapes."""
    names: set[str] = set()
    for span in (m.group(1).strip() for m in _CODE_SPAN.finditer(text)):
        if " " in span:
            names |= {p.strip("'\":,;()[]{}") for p in span.split()}
        else:
            names.add(span)
    bare = _CODE_SPAN.sub(" ", text)
    names |= {m.group(1).rstrip(".,;:!?") for m in _CODE_WORD.finditer(bare)}
    names = {n for n in names if n and not n.isdigit() and n not in ("=", ":")}
    return {n for n in names if len(n) > 1}


def negated(text: str) -> bool:
    return len(_NEGATION.findall(plain(text))) % 2 == 1


def plain(text: str) -> str:
    """Typographic apostrophes and quotes as ASCII (``doesn’t`` = ``doesn't``)."""
    return (
        text.replace("\u2019", "'")
        .replace("\u2018", "'")
        .replace("\u201c", '"')
        .replace("\u201d", '"')
    )


def _has_word(text: str, word: str) -> bool:
    """Whether ``word`` occurs in ``text`` as a whole token (case-insensitive)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w])", text, re.IGNORECASE) is not None


def clean_claim(text: str) -> str:
    """A sentence as a claim: list bullets, bold/italic marks and extra space removed."""
    text = _LIST_MARK.sub("", text)
    text = text.replace("**", "").replace("__", "")
    return " ".join(text.split())


@dataclass
class ClaimVerifier:
    """Checks claims against sources (see the module docstring)."""

    encoder: BM25Encoder
    embed: Callable[[Sequence[str]], Vectors]  # the embedder's document vectors
    thresholds: Thresholds = field(default_factory=shipped_thresholds)

    def vectors(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of ``texts``."""
        vectors = self.embed(list(texts))
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        out: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return out

    def features(self, claim: str, claim_vector: Vectors, source: SourceText) -> Features:
        """The vetoes and the meaning features of one (claim, source) pair."""
        if not source.sentences:
            return Features(0.0, 0.0, 0.0, 0, "the source has no text")
        if source.vectors is None:
            source.vectors = self.vectors(source.sentences)
        if not source._terms:
            source._terms = [set(self.encoder.terms(s)) for s in source.sentences]
            source._all_terms = set().union(*source._terms)
        sims = source.vectors @ claim_vector
        if len(source.sentences) > 1:  # a claim may join two adjacent sentences
            pairs = source.vectors[:-1] + source.vectors[1:]
            pairs /= np.maximum(np.linalg.norm(pairs, axis=1, keepdims=True), 1e-12)
            paired = pairs @ claim_vector
            sims[:-1] = np.maximum(sims[:-1], paired)
        if source._clauses is None:  # a claim may take one fact of a long sentence
            source._clauses = [
                (i, clause)
                for i, sentence in enumerate(source.sentences)
                if len(sentence.split()) > CLAUSE_WORDS
                for clause in _CLAUSE.split(sentence)
                if len(clause.split()) >= 3
            ]
            texts = [clause for _, clause in source._clauses]
            source._clause_vectors = self.vectors(texts) if texts else None
        if source._clause_vectors is not None:
            for (i, _), similarity in zip(
                source._clauses, source._clause_vectors @ claim_vector, strict=True
            ):
                sims[i] = max(sims[i], float(similarity))
        best = int(np.argmax(sims))
        terms = set(self.encoder.terms(claim))
        window = set().union(*source._terms[max(0, best - 1) : best + 2])
        window_coverage = len(terms & window) / len(terms) if terms else 0.0
        source_coverage = len(terms & source._all_terms) / len(terms) if terms else 0.0
        veto = self.veto(claim, terms, source, best)
        return Features(float(sims[best]), window_coverage, source_coverage, best, veto)

    def veto(self, claim: str, terms: set[str], source: SourceText, best: int) -> str:
        """Why exact facts rule the source out, or "" (``terms``: the claim's terms,
        ``best``: its closest sentence)."""
        claim, text = plain(claim), source._plain
        for value, unit in numbers(claim):
            units = {u for v, u in source._numbers if v == value}
            if not units:
                return f"the number {value} is not in the source"
            if unit and units - {""} and unit not in units:
                return f"{value} {unit} is not what the source says"
        for name in code_names(claim):
            if not _has_word(text, name) and not _has_word(text, name.strip("()")):
                return f"{name} is not in the source"
        for name in _PROPER.findall(claim):
            if (
                not _has_word(text, name)
                and name.lower() not in _COMMON
                and source.known(name.lower()) < KNOWN_SHARE
            ):
                return f"{name} is not in the source"
        sentence = plain(source.sentences[best])
        close = terms and len(terms & source._terms[best]) >= 0.75 * len(terms)
        if close and negated(claim) != negated(sentence):  # a near copy with one flip
            return "the claim negates what the source says"
        words = {w.lower() for w in _WORDS.findall(claim)}
        near = {w.lower() for w in _WORDS.findall(sentence)}
        for a, b in _ANTONYMS:
            for mine, opposite in ((a, b), (b, a)):
                if (
                    mine in words
                    and opposite in near
                    and mine not in near
                    and opposite not in words
                ):
                    return f"the source says {opposite}, not {mine}"
        return ""

    def checkable(self, claim: str) -> bool:
        """Whether a sentence states anything a source could support: a lead-in ("Here is
        how:") or a sentence about the answer itself ("The article explains ...", "The
        answer to this question is ...") does not."""
        text = clean_claim(claim)
        if _META.search(text):
            return False
        return len(self.encoder.terms(text)) >= 2 or bool(numbers(text) or code_names(text))

    def check(self, claim: str, sources: Sequence[SourceText], cited: Sequence[int]) -> Verdict:
        """The verdict on one claim: the cited sources (indices into ``sources``) are
        tried first, then the others; the best-supported wins."""
        text = clean_claim(claim)
        if not self.encoder.terms(text) and not numbers(text) and not code_names(text):
            return Verdict(False, reason="states nothing that can be checked")
        vector = self.vectors([text])[0]
        order = [i for i in cited if 0 <= i < len(sources)]
        order += [i for i in range(len(sources)) if i not in order]
        best = Verdict(False, reason="no source supports it")
        for index in order:
            features = self.features(text, vector, sources[index])
            if features.veto:
                if best.source is None:
                    best = Verdict(False, index, features.best, features.cosine, features.veto)
                continue
            if self.thresholds.supports(features):
                if not best.supported or features.cosine > best.similarity + 0.1:
                    best = Verdict(True, index, features.best, features.cosine)
                if index in cited:
                    break  # the cited source supports it: keep the model's citation
            elif not best.supported and features.cosine > best.similarity:
                best = Verdict(False, index, features.best, features.cosine, "too weak a match")
        return best
