"""Fitting the sentence ranker (``kbcore.answering.ranker``) on the question sets.

For every answerable question of a set, the chat pipeline retrieves its sections as it
would to answer, and every candidate sentence gets its features. A sentence is a
positive when it belongs to the expected article and holds the most facts of the question
any sentence of that article holds (at least one); a sentence ending in ":" is read with
the code it introduces, as an answer would quote it.

The model is listwise: per question, a softmax over its candidates, fitted to put the
probability on the positives (L2-regularised log-likelihood, L-BFGS). That is what an
answer needs: the one sentence to lead with, among the sentences of this question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

from kbcore.answering.answerability import TARGET_FALSE_REFUSALS, AnswerabilityGate
from kbcore.answering.engine import ChatEngine
from kbcore.answering.features import FEATURES
from kbcore.answering.models import Turn
from kbcore.answering.ranker import LinearRanker
from kbcore.answering.sources import Sentence, Source

GATE_C = 1.0  # inverse regularisation of the answerability gate
L2 = 10.0  # regularisation strength (on standardised features; 1-50 measured, LOCO)


@dataclass(frozen=True)
class GateRow:
    """What the answerability gate saw for one question, and whether it is answerable."""

    set_name: str
    question_id: str
    features: NDArray[np.float64]
    answerable: bool


@dataclass(frozen=True)
class QuestionRows:
    """One question's candidates: features and whether each is a positive."""

    set_name: str
    question_id: str
    rows: NDArray[np.float64]
    positive: NDArray[np.bool_]


def quoted_text(source: Source, sentence: Sentence) -> str:
    """A sentence as an answer quotes it: with the code it introduces."""
    if sentence.text.rstrip().endswith(":"):
        passage = source.passage(sentence, sentence, with_code=True)
        if passage is not None:
            return passage.quote
    return sentence.text


def collect(
    set_name: str, engine: ChatEngine, golden: Sequence[Mapping[str, Any]]
) -> list[QuestionRows]:
    """Features and labels of every answerable question with facts and a known article."""
    assert engine.scorer is not None
    by_id = {q["id"]: q for q in golden}
    out: list[QuestionRows] = []
    for q in golden:
        facts = [str(f).lower() for f in q.get("facts", [])]
        if not q.get("answerable") or not facts or not q.get("article"):
            continue
        history = _history(q, by_id)
        prepared = engine.prepare(q["question"], history)
        candidates, rows = engine.scorer.features(
            q["question"],
            prepared.focus,
            prepared.sources,
            prepared.vocabulary,
            prepared.rewrite.context,
        )
        if not candidates:
            continue
        counts = np.array(
            [
                sum(f in quoted_text(c.source, c.sentence).lower() for f in facts)
                if c.source.hit.article == q["article"]
                else 0
                for c in candidates
            ]
        )
        if counts.max() < 1:
            continue
        out.append(QuestionRows(set_name, q["id"], rows, counts == counts.max()))
    return out


def _history(q: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> list[Turn]:
    """A follow-up's conversation: the question it follows (the answer is not needed to
    rewrite it, and would depend on the ranker being fitted)."""
    if not q.get("follow_up_of"):
        return []
    return [Turn("user", by_id[q["follow_up_of"]]["question"]), Turn("assistant", "")]


def fit(questions: Sequence[QuestionRows], l2: float = L2) -> LinearRanker:
    """The listwise ranker fitted on ``questions`` (see the module docstring)."""
    if not questions:
        raise ValueError("no question to fit the ranker on")
    stacked = np.vstack([q.rows for q in questions])
    mean = stacked.mean(axis=0)
    scale = stacked.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    groups = [((q.rows - mean) / scale, q.positive) for q in questions]

    def loss(w: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        total = 0.5 * l2 * float(w @ w)
        grad = l2 * w
        for x, positive in groups:
            s = x @ w
            s = s - s.max()
            e = np.exp(s)
            p_all = e / e.sum()
            p_pos = e[positive] / e[positive].sum()
            total -= float(np.log(e[positive].sum()) - np.log(e.sum()))
            grad = grad - (p_pos @ x[positive] - p_all @ x)
        return total, grad

    result = minimize(loss, np.zeros(len(FEATURES)), jac=True, method="L-BFGS-B")
    sets = tuple(sorted({q.set_name for q in questions}))
    return LinearRanker(FEATURES, mean, scale, np.asarray(result.x), 0.0, sets)


def top1(ranker: LinearRanker, questions: Sequence[QuestionRows]) -> float:
    """Share of questions whose best-scored candidate is a positive."""
    if not questions:
        return 0.0
    hits = sum(bool(q.positive[int(np.argmax(ranker.logits(q.rows)))]) for q in questions)
    return hits / len(questions)


def collect_gate(
    set_name: str, engine: ChatEngine, golden: Sequence[Mapping[str, Any]]
) -> list[GateRow]:
    """The gate's features for every question that passes the hard checks (something
    found, above the floor), with ``engine``'s ranker; ``engine`` must not refuse by gate."""
    by_id = {q["id"]: q for q in golden}
    out: list[GateRow] = []
    for q in golden:
        history = _history(q, by_id)
        prepared = engine.prepare(q["question"], history)
        if prepared.evidence is None:
            continue
        out.append(
            GateRow(set_name, q["id"], prepared.evidence.features, bool(q.get("answerable")))
        )
    return out


def fit_gate(
    rows: Sequence[GateRow], target: float = TARGET_FALSE_REFUSALS, c: float = GATE_C
) -> AnswerabilityGate:
    """Logistic regression (classes balanced) over standardised features; the threshold
    is the highest that refuses at most ``target`` of the answerable training questions."""
    x = np.vstack([r.features for r in rows])
    y = np.array([r.answerable for r in rows])
    if y.all() or not y.any():
        raise ValueError("the gate needs answerable and unanswerable questions")
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=1000)
    model.fit((x - mean) / scale, y)
    gate = AnswerabilityGate(
        mean,
        scale,
        np.asarray(model.coef_[0], dtype=np.float64),
        float(model.intercept_[0]),
        0.0,
        tuple(sorted({r.set_name for r in rows})),
    )
    answerable = sorted(gate.probability(r.features) for r in rows if r.answerable)
    allowed = int(np.floor(target * len(answerable)))
    threshold = answerable[allowed] if allowed < len(answerable) else answerable[-1]
    return AnswerabilityGate(
        gate.mean, gate.scale, gate.coef, gate.intercept, float(threshold), gate.fitted_on
    )
