"""Scores the sentences of retrieved sections against the question.

A sentence's score adds up evidence that it answers the question:

- how much of the question's term weight it covers (IDF-weighted, stemmed terms);
- its cosine similarity to the question (computed for the best rough candidates only,
  to keep a chat turn fast; vectors are cached);
- how well its section's heading matches the question, in meaning and in words (our
  headings say what a section answers);
- being the lead sentence of its section, which in well-written articles states the answer;
- containing a number when the question asks for a quantity ("how much", "how many");
- what kind of statement the question asks for: a default ("what's the default ...?":
  "Default: 80", "defaults to"), a reason ("why ...?": "because", "so that"), a contrast
  ("X vs Y": "whereas", "unlike", "the difference"), a means ("how do I ...?": "Set the
  X variable", "by setting") or, for a yes/no question, a limit or negation ("has no
  support for", "only"), which an answer that says "no" carries without echoing the
  question's words;
- its section's rank.

The weights were tuned on the golden set and the two real-docs sets together (see README,
"Answer quality") and are kept in one place, ``Weights``.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from cachetools import LRUCache

from kbcore.answering.sources import Sentence, Source
from kbcore.answering.vocabulary import Vocabulary
from kbcore.embedding.base import Embedder, Vectors
from kbcore.sparse import BM25Encoder

CACHE_SIZE = 16384
CONTEXT_WEIGHT = 0.4
YES_NO_HEADING_COVERAGE = 0.8
_QUANTITY = re.compile(
    r"\b(how (much|many|long|often|big|large|small)|what (value|size|number|percentage|"
    r"dimension|rank)|cost|price|budget)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
# A question a plain "yes" or "no" can answer; other questions skip yes/no answers.
_YES_NO_QUESTION = re.compile(
    r"^\W*(is|are|am|was|were|do|does|did|can|could|should|would|will|shall|has|have|had|"
    r"may|might|must)\b",
    re.IGNORECASE,
)
_YES_NO_ANSWER = re.compile(r"^(yes|no|not necessarily|usually not|probably not)\b", re.IGNORECASE)
# "What is X?", "what's X", "define X": sentences that say what X is answer it.
_DEFINITION_QUESTION = re.compile(
    r"^\W*(?:what(?:\s+(?:exactly|really|actually))?(?:'s|s| is| are| does)|define|"
    r"meaning of|explain)\s+(?:(?:exactly|really|actually)\s+)?(?:an?\s+|the\s+)?"
    r"(?P<term>[^?]{2,60}?)(?:\s+(?:mean|stand for))?\s*\??\s*$",
    re.IGNORECASE,
)
# "What is the 'core schema' that pydantic hands over?": the term ends where a relative
# clause starts, and quotes around it are not part of it.
_RELATIVE_CLAUSE = re.compile(r"\s+(?:that|which|who|whom|whose)\s.*$", re.IGNORECASE)
_QUOTES = "'\"`‘’“”"
_ARTICLE = re.compile(r"^(?:an?|the)\s+")
_COPULAS = ("(", "is ", "are ", "means ", "stands for ", "refers to ")
# Sentences that point elsewhere instead of saying something ("See ...", "This article ...").
_SIGNPOST = re.compile(
    r"^(see|read|this (article|guide|page|section)|the (next|following|rest of this) "
    r"(section|article)|for (the basics|more|details)\b)",
    re.IGNORECASE,
)


# "What's the default ...?": sentences that state a default ("Default: 80", "defaults to").
_DEFAULT_QUESTION = re.compile(r"\bdefaults?\b", re.IGNORECASE)
_STATES_DEFAULT = re.compile(r"\b(?:default:|defaults? (?:to|is|value)|by default)", re.IGNORECASE)
# "Why ...?": sentences that give a reason.
_WHY_QUESTION = re.compile(r"^\W*(?:why|how come)\b|\bwhy\b", re.IGNORECASE)
_REASON = re.compile(
    r"\b(?:because|since|so that|due to|as a result|the reason|this is why|that's why|"
    r"which is why|the catch|otherwise|in order to)\b",
    re.IGNORECASE,
)
# "X vs Y", "what's the difference ...", "compared to": sentences that draw the contrast.
_CONTRAST_QUESTION = re.compile(
    r"\b(?:vs\.?|versus|differen(?:ce|t)|differ|compared?(?: to| with)?|better than)\b",
    re.IGNORECASE,
)
_CONTRAST = re.compile(
    r"\b(?:whereas|unlike|while|the difference|differs?|instead of|rather than|compared|"
    r"in contrast|than)\b",
    re.IGNORECASE,
)
# "How do I ...?", "can I ...?", "is there a way to ...?" (anywhere in the question):
# sentences that state a means ("Set the X variable ...", "To wrap prose, change this
# option to ...", "by setting ...", "X can be used by editor extensions to ...").
_HOW_TO_QUESTION = re.compile(
    r"\bhow (?:do|can|should|would|could|to) (?:i|you|we|one)\b|\bhow to\b|\b(?:can|could) i\b|"
    r"\bis (?:there a way|it possible)\b|\bwhat(?:'s| is) the (?:best |right |recommended )?way\b",
    re.IGNORECASE,
)
_IMPERATIVE = (
    r"(?:use|set|pass|add|call|run|enable|disable|install|configure|specify|require|create|"
    r"define|wrap|import|replace|override|put|turn|change|provide|remove)\b"
)
_MEANS = re.compile(
    rf"^(?:to [^,]{{3,80}},\s*)?{_IMPERATIVE}|"
    r"\bby (?:setting|using|passing|adding|calling|running|enabling|disabling|specifying|"
    r"providing|configuring|overriding|replacing|declaring|defining|installing|changing)\b|"
    r"\b(?:can|could|may) (?:be|still be|also be) \w+ed (?:by|with|using|via|to)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(r"\b(?:not|no|never|only|without|cannot)\b|n't\b|n’t\b", re.IGNORECASE)


# A token a reader would type into code: snake_case, camelCase, dotted.names, --flags,
# call(), numbers with units.
_IDENTIFIER = re.compile(
    r"--?[A-Za-z][\w-]*|\b\w+(?:[._]\w+)+(?:\(\))?|\b[a-z]+[A-Z]\w*|\b\w+\(\)|\b\d[\d.,]*\w*"
)


def _names_something_new(sentence: str, question_words: set[str]) -> float:
    """1.0 when the sentence names an identifier, option or value the question does not
    (the API that resolves a how-to, the default an option has), else 0.0."""
    return float(any(t.lower() not in question_words for t in _IDENTIFIER.findall(sentence)))


def _defined_term(question: str) -> str:
    """The X of "What is X?" (lower case), or ""."""
    match = _DEFINITION_QUESTION.match(question.strip())
    if not match:
        return ""
    term = _RELATIVE_CLAUSE.sub("", match.group("term")).strip().strip(_QUOTES).strip()
    return term.lower()


def _defines(sentence: str, term: str) -> bool:
    """Whether a sentence says what ``term`` is: it opens with the term and a copula
    ("LoRA (Low-Rank ...) freezes", "RAG stands for", "Prompt injection is an attack",
    "A reranker reorders ...", "Chain-of-thought prompting is ..." for "chain of
    thought": hyphens and a leading article do not matter, and one head noun may follow
    the term), or it names the term and defines it after a colon ("... uses the concept
    of a core schema: a structured Python dictionary ...")."""
    lower = _ARTICLE.sub("", sentence.lower().replace("-", " "))
    term = _ARTICLE.sub("", term.replace("-", " "))
    if not term:
        return False
    if not lower.startswith(term):
        return f" {term}: " in f" {lower}"
    rest = lower[len(term) :].lstrip()
    words = rest.split(" ", 2)
    return (
        rest.startswith(_COPULAS)
        or (bool(rest) and words[0].endswith("s"))
        or (len(words) > 1 and f"{words[1]} ".startswith(_COPULAS))
    )


@dataclass(frozen=True)
class Weights:
    """How much each signal counts (tuned on all three eval sets together)."""

    lexical: float = 0.2
    dense: float = 0.3
    lead: float = 0.0
    heading_dense: float = 0.3
    heading_lexical: float = 0.3
    number: float = 0.1
    faq: float = 0.1
    rank_penalty: float = 0.1
    signpost_penalty: float = 0.3
    yes_no_penalty: float = 0.15
    definition: float = 0.3
    answer_token: float = 0.0
    section_dense: float = 0.0
    default: float = 0.2
    reason: float = 0.1
    polar: float = 0.1
    contrast: float = 0.1
    means: float = 0.2
    dense_candidates: int = 200


@dataclass(frozen=True)
class ScoredSentence:
    """A candidate sentence with its score."""

    source: Source
    sentence: Sentence
    score: float
    lexical: float
    dense: float

    @property
    def text(self) -> str:
        return self.sentence.text


@dataclass
class SentenceScorer:
    """Ranks candidate sentences for a question; caches text vectors (bounded LRU)."""

    embedder: Embedder
    encoder: BM25Encoder = field(default_factory=BM25Encoder)
    weights: Weights = field(default_factory=Weights)
    _cache: LRUCache[str, Vectors] = field(default_factory=lambda: LRUCache(CACHE_SIZE))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def query_weights(
        self, query: str, vocabulary: Vocabulary, context: str = ""
    ) -> dict[str, float]:
        """IDF weight of each distinct stemmed query term; terms only in ``context`` (the
        question a follow-up refers to) count at a reduced weight."""
        weights = {
            term: CONTEXT_WEIGHT * vocabulary.idf(term) for term in set(self.encoder.terms(context))
        }
        weights.update({term: vocabulary.idf(term) for term in set(self.encoder.terms(query))})
        return weights

    def lexical(self, weights: dict[str, float], text: str) -> float:
        """Share of the query's term weight that ``text`` covers."""
        total = sum(weights.values())
        if total <= 0:
            return 0.0
        terms = set(self.encoder.terms(text))
        return sum(w for t, w in weights.items() if t in terms) / total

    def score(
        self,
        query: str,
        query_vector: Vectors,
        sources: Sequence[Source],
        vocabulary: Vocabulary,
        context: str = "",
    ) -> list[ScoredSentence]:
        """Every sentence of ``sources``, best first."""
        w = self.weights
        term_weights = self.query_weights(query, vocabulary, context)
        wants_number = bool(_QUANTITY.search(query))
        defined = _defined_term(query)
        yes_no = bool(_YES_NO_QUESTION.match(query))
        wants_default = bool(_DEFAULT_QUESTION.search(query))
        wants_reason = bool(_WHY_QUESTION.search(query))
        wants_contrast = bool(_CONTRAST_QUESTION.search(query))
        wants_means = bool(_HOW_TO_QUESTION.search(query))
        question_words = {w.lower() for w in _IDENTIFIER.findall(f"{context} {query}")}
        heading_similarity = self.similarity(query_vector, [s.hit.heading for s in sources])
        rough: list[tuple[float, float, Source, Sentence]] = []
        for rank, (source, heading_dense) in enumerate(
            zip(sources, heading_similarity, strict=True)
        ):
            heading_lexical = self.lexical(term_weights, source.hit.heading)
            # A "Yes, ..." or "No, ..." answers the question of its own heading; it may only
            # answer the visitor's if that is a yes/no question the heading states in full.
            yes_no_fits = yes_no and heading_lexical >= YES_NO_HEADING_COVERAGE
            section = (
                w.heading_dense * heading_dense
                + w.heading_lexical * self.lexical(term_weights, source.hit.heading_path)
                + (w.faq if source.is_faq else 0.0)
                - w.rank_penalty * rank
            )
            section += w.section_dense * (source.hit.dense_score or 0.0)
            for sentence in source.sentences():
                lexical = self.lexical(term_weights, sentence.text)
                base = (
                    w.answer_token * _names_something_new(sentence.text, question_words)
                    if not yes_no
                    else 0.0
                ) + (
                    section
                    + w.lexical * lexical
                    + (w.lead if sentence.index == 0 else 0.0)
                    + (w.number if wants_number and _DIGIT.search(sentence.text) else 0.0)
                    - (w.signpost_penalty if _SIGNPOST.match(sentence.text) else 0.0)
                    + (w.definition if defined and _defines(sentence.text, defined) else 0.0)
                    - (
                        w.yes_no_penalty
                        if not yes_no_fits and _YES_NO_ANSWER.match(sentence.text)
                        else 0.0
                    )
                    + (
                        w.default
                        if wants_default and _STATES_DEFAULT.search(sentence.text)
                        else 0.0
                    )
                    + (w.reason if wants_reason and _REASON.search(sentence.text) else 0.0)
                    + (w.polar if yes_no and _NEGATION.search(sentence.text) else 0.0)
                    + (w.contrast if wants_contrast and _CONTRAST.search(sentence.text) else 0.0)
                    + (w.means if wants_means and _MEANS.search(sentence.text) else 0.0)
                )
                rough.append((base, lexical, source, sentence))
        rough.sort(key=lambda item: -item[0])
        shortlisted = rough[: w.dense_candidates]
        similarities = self.similarity(query_vector, [item[3].text for item in shortlisted])
        scored = [
            ScoredSentence(source, sentence, base + w.dense * dense, lexical, dense)
            for (base, lexical, source, sentence), dense in zip(
                shortlisted, similarities, strict=True
            )
        ]
        scored.extend(
            ScoredSentence(source, sentence, base, lexical, 0.0)
            for base, lexical, source, sentence in rough[w.dense_candidates :]
        )
        return sorted(scored, key=lambda s: -s.score)

    def similarity(self, query_vector: Vectors, texts: Sequence[str]) -> list[float]:
        """Cosine similarity of each text to the query (vectors cached)."""
        return [float(np.dot(v, query_vector)) for v in self._vectors(list(texts))]

    def _vectors(self, texts: list[str]) -> list[Vectors]:
        if not texts:
            return []
        keys = [hashlib.blake2b(t.encode(), digest_size=16).hexdigest() for t in texts]
        with self._lock:
            known = {key: v for key in keys if (v := self._cache.get(key)) is not None}
        missing = [i for i, key in enumerate(keys) if key not in known]
        if missing:
            fresh = self.embedder.embed_documents([texts[i] for i in missing])
            for row, i in enumerate(missing):
                known[keys[i]] = fresh[row]
        with self._lock:
            for key in keys:
                self._cache[key] = known[key]
        return [known[key] for key in keys]
