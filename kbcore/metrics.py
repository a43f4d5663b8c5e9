"""Ranking metrics with binary relevance, shared by the benchmarks and `kb eval`."""

from __future__ import annotations

import math
from collections.abc import Sequence, Set


def ndcg_at(ranked: Sequence[str], relevant: Set[str], k: int = 10) -> float:
    """nDCG@k with binary gains."""
    dcg = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: Sequence[str], relevant: Set[str], k: int = 100) -> float:
    """Share of the relevant documents found in the top k."""
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0
