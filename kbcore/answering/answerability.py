"""Does what retrieval found answer the question? A fitted gate over what the question
asks and what the closest sections and their best sentences say.

Visitors write their context first ("our pages are rendered by Rails. after vite build,
how does ..."), so a name the docs never mention is not by itself a reason to refuse; and
a near miss ("can I password-protect a MyST site?") often names nothing the docs lack,
it asks for something they never state. The gate weighs both kinds of evidence
(``ANSWERABILITY_FEATURES``): how close the best section is (against the index's own
refusal floor), how much of the question, and of its asking part, the best sentences and
sections cover, the ranker's confidence in its best sentence, the specific terms the
sections never mention (in the question, and in its asking part), and whether the
question asks for a value (a limit, a date, a shortcut) that no sentence states. Asking
for a value is no evidence by itself: near misses often ask for one, and so do visitors
whose answer is a price the docs state.

The weights and the threshold are fitted by ``kb eval --all --fit`` on the question sets
(answerable questions against near misses and off-topic ones; the threshold keeps false
refusals on the training sets at most ``TARGET_FALSE_REFUSALS``) and validated
leave-one-corpus-out (``kb eval --all --loco``). They ship as
``kbcore/assets/answerability.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from kbcore.answering.features import focus_of
from kbcore.answering.ranker import read_linear
from kbcore.answering.scoring import ScoredSentence
from kbcore.answering.sources import Source
from kbcore.answering.vocabulary import Vocabulary
from kbcore.errors import KBError

GATE_PATH = Path(__file__).resolve().parent.parent / "assets" / "answerability.json"
TARGET_FALSE_REFUSALS = 0.02
COVER_SOURCES = 3

ANSWERABILITY_FEATURES: tuple[str, ...] = (
    "dense_over_floor",
    "best_sentence_score",
    "best_sentence_dense",
    "best_sentence_lexical",
    "best_window_lexical",
    "focus_cover_best_section",
    "cover_best_section",
    "cover_top_sections",
    "focus_cover_top_sections",
    "unsupported_terms",
    "unsupported_focus_terms",
    "missing_value",
    "yes_no",
)


@dataclass(frozen=True)
class Evidence:
    """What the gate saw for one question: its features, the terms the closest sections
    never mention, and the asking part's content words none of them covers."""

    features: NDArray[np.float64]
    unsupported: tuple[str, ...]
    uncovered: tuple[str, ...]
    missing_value: str


def gather(
    question: str,
    sources: Sequence[Source],
    ranked: Sequence[ScoredSentence],
    floor: float,
    vocabulary: Vocabulary,
    terms: Callable[[str], frozenset[str]],
    unsupported: Sequence[str],
    missing_value: str,
    yes_no: bool,
) -> Evidence:
    """The gate's features for ``question`` (``ranked``: the sources' sentences, best
    first; ``unsupported``/``missing_value``: the rule-based findings of ``support``)."""
    focus = focus_of(question)
    weights = _weights(question, vocabulary, terms)
    focus_weights = _weights(focus, vocabulary, terms)
    top_dense = max((s.hit.dense_score or 0.0) for s in sources[:COVER_SOURCES])
    section_terms = [
        set(terms(s.hit.heading_path)).union(*(terms(c.text) for c in s.chunks))
        for s in sources[:COVER_SOURCES]
    ]
    union: set[str] = set().union(*section_terms) if section_terms else set()
    best = ranked[0] if ranked else None
    window: set[str] = set()
    if best is not None:
        sentences = best.source.sentences()
        index = best.sentence.index
        for sentence in sentences[max(index - 1, 0) : index + 2]:
            window.update(terms(sentence.text))
    focus_words = {t.lower() for t in unsupported if t.lower() in focus.lower()}
    features = np.array(
        [
            top_dense - floor,
            best.score if best is not None else -10.0,
            best.dense if best is not None else 0.0,
            best.lexical if best is not None else 0.0,
            _cover(weights, window),
            _cover(focus_weights, section_terms[0] if section_terms else set()),
            _cover(weights, section_terms[0] if section_terms else set()),
            _cover(weights, union),
            _cover(focus_weights, union),
            float(len(unsupported)),
            float(len(focus_words)),
            float(bool(missing_value)),
            float(yes_no),
        ]
    )
    uncovered = tuple(
        sorted(
            (t for t in focus_weights if t not in union and focus_weights[t] > 0),
            key=lambda t: -focus_weights[t],
        )[:3]
    )
    return Evidence(features, tuple(unsupported), uncovered, missing_value)


def _weights(
    text: str, vocabulary: Vocabulary, terms: Callable[[str], frozenset[str]]
) -> dict[str, float]:
    return {term: vocabulary.idf(term) for term in terms(text)}


def _cover(weights: dict[str, float], terms: set[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in terms) / total if total > 0 else 0.0


@dataclass(frozen=True)
class AnswerabilityGate:
    """``P(answerable) = sigmoid(((x - mean) / scale) . coef + intercept)``; below
    ``threshold`` the question is refused."""

    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    coef: NDArray[np.float64]
    intercept: float
    threshold: float
    fitted_on: tuple[str, ...] = ()

    def probability(self, features: NDArray[np.float64]) -> float:
        z = float(((features - self.mean) / self.scale) @ self.coef + self.intercept)
        return 1.0 / (1.0 + float(np.exp(-z)))

    def answers(self, features: NDArray[np.float64]) -> bool:
        return self.probability(features) >= self.threshold

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(ANSWERABILITY_FEATURES),
            "mean": [round(float(x), 6) for x in self.mean],
            "scale": [round(float(x), 6) for x in self.scale],
            "coef": [round(float(x), 6) for x in self.coef],
            "intercept": round(self.intercept, 6),
            "threshold": round(self.threshold, 6),
            "fitted_on": list(self.fitted_on),
        }

    @classmethod
    def open_gate(cls) -> AnswerabilityGate:
        """A gate that refuses nothing (for collecting features before any is fitted)."""
        n = len(ANSWERABILITY_FEATURES)
        return cls(np.zeros(n), np.ones(n), np.zeros(n), 10.0, 0.0, ("nothing",))

    @classmethod
    def from_json(cls, data: dict[str, object], source: str = "gate") -> AnswerabilityGate:
        mean, scale, coef, intercept, fitted_on = read_linear(data, ANSWERABILITY_FEATURES, source)
        try:
            threshold = float(data["threshold"])  # type: ignore[arg-type]
        except (KeyError, TypeError, ValueError) as exc:
            raise KBError(f"{source}: not an answerability gate ({exc})") from exc
        return cls(mean, scale, coef, intercept, threshold, fitted_on)

    @classmethod
    def load(cls, path: Path) -> AnswerabilityGate:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KBError(f"cannot read the answerability gate {path}: {exc}") from exc
        return cls.from_json(data, str(path))


@cache
def shipped_gate() -> AnswerabilityGate:
    """The gate this release ships (read once per process; never changes)."""
    return AnswerabilityGate.load(GATE_PATH)
