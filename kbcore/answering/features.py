"""Features of each candidate sentence for a question: the evidence the sentence ranker
(``kbcore.answering.ranker``) weighs to pick the sentence that answers.

Every feature is cheap at question time: sentence and heading vectors were stored at
ingest (``kbcore.schema.SENTENCE_VECTORS``), term weights come from the index version's
vocabulary, and the rest are patterns of the sentence and of the question
(``kbcore.answering.signals``). ``FEATURES`` names the columns, in order; the ranker's
weights are fitted against exactly these names.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import numpy as np
from cachetools import LRUCache
from numpy.typing import NDArray

from kbcore.answering import signals as sig
from kbcore.answering.sources import Sentence, Source
from kbcore.answering.vocabulary import Vocabulary
from kbcore.embedding.base import Vectors
from kbcore.sparse import BM25Encoder

CONTEXT_WEIGHT = 0.4  # terms only in the question a follow-up refers to count this much
YES_NO_QUESTION_KIND = (
    sig.YES_NO_QUESTION.match
)  # terms only in the question a follow-up refers to count this much
YES_NO_HEADING_COVERAGE = 0.8

FEATURES: tuple[str, ...] = (
    # the section
    "section_rank",
    "section_first",
    "section_fused",
    "section_dense",
    "section_sparse",
    "heading_dense",
    "heading_lexical",
    "faq",
    # the sentence against the question
    "lexical",
    "lexical_window",
    "lexical_gap",
    "dense",
    "dense_window",
    "dense_gap",
    "dense_best_in_section",
    "dense_rank_in_section",
    "lexical_rank_in_section",
    "focus_lexical",
    "focus_dense",
    "previous_lexical",
    "next_lexical",
    "section_best_lexical",
    "asked_identifier",
    "new_identifier",
    "heading_names_identifier",
    "names_wanted",
    # the sentence itself
    "first_in_section",
    "position",
    "log_length",
    "short",
    "long",
    "label",
    "table_row",
    "fragment",
    "ends_with_colon",
    "code_follows",
    "question_sentence",
    "anaphor",
    "signpost",
    "imperative",
    # what the question asks for, and whether the sentence gives it
    "quantity_number",
    "definition",
    "yes_no_misfit",
    "default",
    "reason",
    "polar",
    "contrast",
    "means",
    "means_asked",
)

Matrix = NDArray[np.float64]
VectorsFor = Callable[[Sequence[str]], Vectors]


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved section."""

    source: Source
    sentence: Sentence
    rank: int  # the section's rank among the sources, 0 = best


# "which flag/option/command ...", "what setting ...": the answer names something.
_NAME_QUESTION = re.compile(
    r"\b(?:which|what)\s+(?:\w+\s+)?(?:command|flag|option|setting|key|config|variable|"
    r"function|method|hook|api|directive|role|tag|filter|field|property|plugin|package|"
    r"event|env|parameter|argument|value|file|name)s?\b|\bis there an? (?:option|setting|"
    r"flag|way|config|api|hook|event)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def focus_of(question: str) -> str:
    """The part of a question that asks (its last sentence of three words or more): a
    visitor's context comes first ("My site has 2000 posts and ... . How do I ...?")."""
    parts = [p for p in _SENTENCE_END.split(question.strip()) if len(p.split()) >= 3]
    return parts[-1] if parts else question


@dataclass(frozen=True)
class QuestionKind:
    """What the question asks for (from its own words)."""

    number: bool
    defined: str
    yes_no: bool
    default: bool
    reason: bool
    contrast: bool
    means: bool
    name: bool

    @classmethod
    def of(cls, question: str) -> QuestionKind:
        return cls(
            name=bool(_NAME_QUESTION.search(question)),
            number=bool(sig.QUANTITY_QUESTION.search(question)),
            defined=sig.defined_term(question),
            yes_no=bool(sig.YES_NO_QUESTION.match(question)),
            default=bool(sig.DEFAULT_QUESTION.search(question)),
            reason=bool(sig.WHY_QUESTION.search(question)),
            contrast=bool(sig.CONTRAST_QUESTION.search(question)),
            means=bool(sig.HOW_TO_QUESTION.search(question)),
        )


@dataclass(frozen=True)
class Traits:
    """What a text is, whatever the question: its stemmed terms, the identifiers it names
    and the patterns of ``signals`` it matches (computed once per text, then cached)."""

    terms: frozenset[str]
    identifiers: tuple[str, ...]
    label: bool
    fragment: bool
    colon: bool
    question: bool
    anaphor: bool
    signpost: bool
    imperative: bool
    digit: bool
    yes_no_answer: bool
    states_default: bool
    reason: bool
    negation: bool
    contrast: bool
    means: bool

    @classmethod
    def of(cls, text: str, encoder: BM25Encoder) -> Traits:
        stripped = text.rstrip()
        return cls(
            terms=frozenset(encoder.terms(text)),
            identifiers=tuple(t.lower() for t in sig.IDENTIFIER.findall(text)),
            label=sig.is_label(text),
            fragment=sig.is_fragment(text),
            colon=stripped.endswith(":"),
            question=stripped.endswith("?"),
            anaphor=bool(sig.ANAPHOR.match(text)),
            signpost=bool(sig.SIGNPOST.match(text)),
            imperative=bool(sig.IMPERATIVE.match(text)),
            digit=bool(sig.DIGIT.search(text)),
            yes_no_answer=bool(sig.YES_NO_ANSWER.match(text)),
            states_default=bool(sig.STATES_DEFAULT.search(text)),
            reason=bool(sig.REASON.search(text)),
            negation=bool(sig.NEGATION.search(text)),
            contrast=bool(sig.CONTRAST.search(text)),
            means=bool(sig.MEANS.search(text)),
        )


@dataclass
class TraitCache:
    """``Traits`` of recently seen texts (bounded; shared by the threads of a process)."""

    encoder: BM25Encoder
    size: int = 32768
    _cache: LRUCache[str, Traits] = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._cache = LRUCache(self.size)

    def __call__(self, text: str) -> Traits:
        with self._lock:
            known = self._cache.get(text)
        if known is not None:
            return known
        traits = Traits.of(text, self.encoder)
        with self._lock:
            self._cache[text] = traits
        return traits

    def terms(self, text: str) -> frozenset[str]:
        return self(text).terms


@dataclass
class FeatureExtractor:
    """Builds the feature matrix of every sentence of the sources for one question."""

    encoder: BM25Encoder
    traits: TraitCache | None = None

    def __post_init__(self) -> None:
        if self.traits is None:
            self.traits = TraitCache(self.encoder)

    def term_weights(
        self, query: str, vocabulary: Vocabulary, context: str = ""
    ) -> dict[str, float]:
        """IDF weight of each distinct stemmed query term; terms only in ``context`` (the
        question a follow-up refers to) count at a reduced weight."""
        weights = {
            term: CONTEXT_WEIGHT * vocabulary.idf(term) for term in set(self.encoder.terms(context))
        }
        weights.update({term: vocabulary.idf(term) for term in set(self.encoder.terms(query))})
        return weights

    def yes_no_fits(
        self, question: str, sources: Sequence[Source], vocabulary: Vocabulary, context: str = ""
    ) -> dict[int, bool]:
        """Per source: whether a "Yes, ..." or "No, ..." of its section may answer the
        question. Such a sentence answers its own heading's question, so only when the
        visitor asks a yes/no question that heading states in full."""
        assert self.traits is not None
        if not YES_NO_QUESTION_KIND(question):
            return {s.number: False for s in sources}
        weights = self.term_weights(question, vocabulary, context)
        return {
            s.number: self.coverage(weights, self.traits.terms(s.hit.heading))
            >= YES_NO_HEADING_COVERAGE
            for s in sources
        }

    def coverage(self, weights: dict[str, float], terms: AbstractSet[str]) -> float:
        """Share of the query's term weight that ``terms`` cover."""
        total = sum(weights.values())
        if total <= 0:
            return 0.0
        return sum(w for t, w in weights.items() if t in terms) / total

    def extract(
        self,
        question: str,
        query_vector: Vectors,
        sources: Sequence[Source],
        vocabulary: Vocabulary,
        vectors_for: VectorsFor,
        context: str = "",
        focus_vector: Vectors | None = None,
    ) -> tuple[list[Candidate], Matrix]:
        """Every sentence of ``sources`` and its row of ``FEATURES`` (``focus_vector``:
        the embedding of the question's asking part, when it has context before it)."""
        kind = QuestionKind.of(question)
        weights = self.term_weights(question, vocabulary, context)
        focus = focus_of(question)
        focus_weights = self.term_weights(focus, vocabulary) if focus != question else weights
        question_words = {w.lower() for w in sig.IDENTIFIER.findall(f"{context} {question}")}
        candidates = [
            Candidate(source, sentence, rank)
            for rank, source in enumerate(sources)
            for sentence in source.sentences()
        ]
        if not candidates:
            return [], np.zeros((0, len(FEATURES)))
        dense = self._dense(candidates, query_vector, vectors_for)
        focus_dense = (
            self._dense(candidates, focus_vector, vectors_for)
            if focus_vector is not None
            else dense
        )
        heading = self._heading_dense(sources, query_vector, vectors_for)
        assert self.traits is not None
        traits = [self.traits(c.sentence.reads_as) for c in candidates]
        terms = [t.terms for t in traits]
        lexical = np.array([self.coverage(weights, t) for t in terms])
        focus_lexical = np.array([self.coverage(focus_weights, t) for t in terms])
        dense_rank = _rank_within(candidates, dense)
        lexical_rank = _rank_within(candidates, lexical)
        section_lexical: dict[int, float] = {}
        for i, c in enumerate(candidates):
            number = c.source.number
            section_lexical[number] = max(section_lexical.get(number, 0.0), float(lexical[i]))
        # A sentence with its neighbours in the section: what it says in context.
        window_lexical = np.zeros(len(candidates))
        window_dense = np.zeros(len(candidates))
        best_in_section: dict[int, float] = {}
        for i, c in enumerate(candidates):
            best_in_section[c.source.number] = max(
                best_in_section.get(c.source.number, -1.0), dense[i]
            )
        previous_lexical = np.zeros(len(candidates))
        next_lexical = np.zeros(len(candidates))
        for i, c in enumerate(candidates):
            near = [
                j
                for j in (i - 1, i + 1)
                if 0 <= j < len(candidates) and candidates[j].source is c.source
            ]
            if i > 0 and candidates[i - 1].source is c.source:
                previous_lexical[i] = lexical[i - 1]
            if i + 1 < len(candidates) and candidates[i + 1].source is c.source:
                next_lexical[i] = lexical[i + 1]
            joined = set(terms[i]).union(*(terms[j] for j in near))
            window_lexical[i] = self.coverage(weights, joined)
            window_dense[i] = max([dense[i], *(dense[j] for j in near)])
        fused_top = max((s.hit.score for s in sources), default=1.0) or 1.0
        sparse_top = max((s.hit.sparse_score or 0.0 for s in sources), default=0.0) or 1.0
        rows = np.zeros((len(candidates), len(FEATURES)))
        lexical_top, dense_top = float(lexical.max()), float(dense.max())
        heading_lexical = {
            s.number: self.coverage(weights, self.traits.terms(s.hit.heading_path)) for s in sources
        }
        yes_no_fits = self.yes_no_fits(question, sources, vocabulary, context)
        for i, c in enumerate(candidates):
            source, sentence, text, t = c.source, c.sentence, c.sentence.reads_as, traits[i]
            hit = source.hit
            count = max(len(source.sentences()), 1)
            asked = any(w in question_words for w in t.identifiers)
            new_name = any(w not in question_words for w in t.identifiers)
            rows[i] = (
                c.rank / 5.0,
                float(c.rank == 0),
                hit.score / fused_top,
                hit.dense_score or 0.0,
                (hit.sparse_score or 0.0) / sparse_top,
                heading[source.number],
                heading_lexical[source.number],
                float(source.is_faq),
                lexical[i],
                window_lexical[i],
                lexical[i] - lexical_top,
                dense[i],
                window_dense[i],
                dense[i] - dense_top,
                float(dense[i] >= best_in_section[source.number]),
                dense_rank[i],
                lexical_rank[i],
                focus_lexical[i],
                focus_dense[i],
                previous_lexical[i],
                next_lexical[i],
                section_lexical[source.number],
                float(asked),
                float(new_name),
                float(names_identifier(hit.heading)),
                float(kind.name and (new_name or sentence.code_follows)),
                float(sentence.index == 0),
                sentence.index / count,
                math.log1p(len(text)) / 6.0,
                float(len(text) < 40),
                float(len(text) > 300),
                float(t.label),
                float(bool(sentence.table_header)),
                float(t.fragment),
                float(t.colon),
                float(sentence.code_follows),
                float(t.question),
                float(t.anaphor),
                float(t.signpost),
                float(t.imperative),
                float(kind.number and t.digit),
                float(bool(kind.defined) and sig.defines(text, kind.defined)),
                float(not yes_no_fits[source.number] and t.yes_no_answer),
                float(kind.default and t.states_default),
                float(kind.reason and t.reason),
                float(kind.yes_no and t.negation),
                float(kind.contrast and t.contrast),
                float(kind.means and t.means),
                float(kind.means),
            )
        return candidates, rows

    def _dense(
        self, candidates: Sequence[Candidate], query_vector: Vectors, vectors_for: VectorsFor
    ) -> NDArray[np.float64]:
        """Cosine similarity of each sentence to the question: the stored vector, else one
        embedded now (``vectors_for``, which bounds and caches that work)."""
        out = np.zeros(len(candidates))
        missing: list[int] = []
        for i, c in enumerate(candidates):
            if c.sentence.vector is not None:
                out[i] = float(np.dot(c.sentence.vector, query_vector))
            else:
                missing.append(i)
        if missing:
            vectors = vectors_for([candidates[i].sentence.text for i in missing])
            for row, i in enumerate(missing):
                out[i] = float(np.dot(vectors[row], query_vector))
        return out

    def _heading_dense(
        self, sources: Sequence[Source], query_vector: Vectors, vectors_for: VectorsFor
    ) -> dict[int, float]:
        """Similarity of each section's heading path to the question."""
        out: dict[int, float] = {}
        missing: list[Source] = []
        for source in sources:
            vector = source.heading_vector
            if vector is not None:
                out[source.number] = float(np.dot(vector, query_vector))
            else:
                missing.append(source)
        if missing:
            vectors = vectors_for([s.hit.heading_path for s in missing])
            for row, source in enumerate(missing):
                out[source.number] = float(np.dot(vectors[row], query_vector))
        return out


def _rank_within(candidates: Sequence[Candidate], values: NDArray[np.float64]) -> list[float]:
    """Each candidate's rank by ``values`` among its section's sentences (0 = best), as a
    share of the section's count."""
    by_section: dict[int, list[int]] = {}
    for i, c in enumerate(candidates):
        by_section.setdefault(c.source.number, []).append(i)
    out = [0.0] * len(candidates)
    for members in by_section.values():
        ordered = sorted(members, key=lambda i: -values[i])
        for rank, i in enumerate(ordered):
            out[i] = rank / max(len(members) - 1, 1)
    return out


def names_identifier(heading: str) -> bool:
    """A heading that is the name of an option, flag or API (``server.port``,
    ``--check``, ``envPrefix``, ``defineConfig()``): an answer from its section names it."""
    text = heading.strip()
    return (
        0 < len(text) <= 60
        and " " not in text
        and bool(sig.IDENTIFIER.fullmatch(text) or re.fullmatch(r"[a-z]+[A-Z]\w*", text))
    )
