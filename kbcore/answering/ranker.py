"""The sentence ranker: a logistic model over ``kbcore.answering.features.FEATURES`` that
scores how likely a sentence is to state what the question asks.

Its weights are fitted by ``kb eval --all --fit`` on every question set in
``eval/thresholds.toml`` (a sentence of the expected article that holds the question's
facts is a positive) and validated leave-one-corpus-out (``kb eval --all --loco``: fitted
on the other sets, scored on the held-out one). They ship as ``kbcore/assets/ranker.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from kbcore.answering.features import FEATURES
from kbcore.errors import KBError

RANKER_PATH = Path(__file__).resolve().parent.parent / "assets" / "ranker.json"


@dataclass(frozen=True)
class LinearRanker:
    """``sigmoid(((x - mean) / scale) . coef + intercept)`` per sentence."""

    features: tuple[str, ...]
    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    coef: NDArray[np.float64]
    intercept: float
    fitted_on: tuple[str, ...] = ()

    def logits(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        """The model's log-odds for each row of features."""
        if not len(rows):
            return np.zeros(0)
        out: NDArray[np.float64] = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        return out

    def probabilities(self, rows: NDArray[np.float64]) -> NDArray[np.float64]:
        out: NDArray[np.float64] = 1.0 / (1.0 + np.exp(-self.logits(rows)))
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(self.features),
            "mean": [round(float(x), 6) for x in self.mean],
            "scale": [round(float(x), 6) for x in self.scale],
            "coef": [round(float(x), 6) for x in self.coef],
            "intercept": round(self.intercept, 6),
            "fitted_on": list(self.fitted_on),
        }

    @classmethod
    def neutral(cls) -> LinearRanker:
        """A ranker that weighs nothing (every sentence ties): for collecting features
        before any ranker is fitted."""
        n = len(FEATURES)
        return cls(FEATURES, np.zeros(n), np.ones(n), np.zeros(n), 0.0, ("nothing",))

    @classmethod
    def from_json(cls, data: dict[str, object], source: str = "ranker") -> LinearRanker:
        """A ranker from its JSON form; it must name exactly today's ``FEATURES``."""
        mean, scale, coef, intercept, fitted_on = read_linear(data, FEATURES, source)
        return cls(FEATURES, mean, scale, coef, intercept, fitted_on)

    @classmethod
    def load(cls, path: Path) -> LinearRanker:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KBError(f"cannot read the sentence ranker {path}: {exc}") from exc
        return cls.from_json(data, str(path))


Linear = tuple[
    NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float, tuple[str, ...]
]


def read_linear(data: dict[str, object], features: tuple[str, ...], source: str) -> Linear:
    """Mean, scale (zeros read as 1), coefficients, intercept and the sets fitted on, of a
    linear model stored as JSON over exactly ``features`` (else a ``KBError`` that says
    to refit: the model was fitted on other features than this release computes)."""
    try:
        names = tuple(str(f) for f in data["features"])  # type: ignore[attr-defined]
        arrays = [np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "coef")]
        intercept = float(data["intercept"])  # type: ignore[arg-type]
        fitted_on = tuple(str(s) for s in data.get("fitted_on", ()))  # type: ignore[attr-defined]
    except (KeyError, TypeError, ValueError) as exc:
        raise KBError(f"{source}: not a fitted model ({exc})") from exc
    if names != features or any(len(a) != len(features) for a in arrays):
        raise KBError(
            f"{source} was fitted on other features than this release computes; refit it "
            "with `kb eval --all --fit`"
        )
    mean, scale, coef = arrays
    return mean, np.where(scale > 0, scale, 1.0), coef, intercept, fitted_on


@cache
def shipped_ranker() -> LinearRanker:
    """The ranker this release ships (read once per process; never changes)."""
    return LinearRanker.load(RANKER_PATH)
