"""The refusal floor of an index version, measured on its own content when it is built.

How similar an off-topic question looks depends on the corpus: against our articles
"What's a good hydration ratio for sourdough?" scores about 0.15, against an API
reference full of short code-heavy sections 0.2-0.25. A fixed floor therefore refuses too
little on one corpus and too much on another. Each build asks two probe sets against the
new version (dense similarity of the best chunk):

- off-topic: questions no documentation answers (``kbcore/assets/probes/off_topic.txt``);
  the floor sits at their 90th percentile, so nine in ten of them are refused on
  similarity alone;
- in-domain: the version's own headings and front-matter questions; the floor never rises
  above their 10th percentile, so a knowledge base whose topic overlaps the off-topic
  probes (a cooking site) still answers its own questions.

The floor is stored in the version's manifest; ``kb index list`` and ``kb eval`` show it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ingest.chunking import PreparedChunk
from kbcore.embedding.base import Embedder
from kbcore.index_store import IndexStore

OFF_TOPIC_QUANTILE = 0.95
IN_DOMAIN_QUANTILE = 0.1
IN_DOMAIN_PROBES = 100
MIN_FLOOR = 0.12
MAX_FLOOR = 0.5
BATCH = 64


@dataclass(frozen=True)
class Calibration:
    """The floor and the two measurements it came from."""

    floor: float
    off_topic: float  # the off-topic probes' 95th percentile
    in_domain: float  # the in-domain probes' 10th percentile
    probes: int

    def to_json(self) -> dict[str, float]:
        return {
            "floor": round(self.floor, 4),
            "off_topic_p95": round(self.off_topic, 4),
            "in_domain_p10": round(self.in_domain, 4),
            "probes": self.probes,
        }


def off_topic_probes() -> list[str]:
    """The shipped off-topic questions."""
    text = resources.files("kbcore").joinpath("assets/probes/off_topic.txt").read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def in_domain_probes(chunks: Sequence[PreparedChunk], limit: int = IN_DOMAIN_PROBES) -> list[str]:
    """A stable sample of the version's headings (two words or more) and questions."""
    found: set[str] = set()
    for chunk in chunks:
        payload = chunk.payload
        if payload.kind == "question":
            found.add(payload.text)
        elif payload.level >= 2 and len(payload.heading.split()) >= 2:
            found.add(payload.heading)
    ranked = sorted(found, key=lambda t: hashlib.sha256(t.encode()).hexdigest())
    return ranked[:limit]


def _best_scores(
    store: IndexStore, version: str, embedder: Embedder, probes: Sequence[str]
) -> list[float]:
    scores: list[float] = []
    for start in range(0, len(probes), BATCH):
        block = probes[start : start + BATCH]
        vectors = [[float(x) for x in row.tolist()] for row in embedder.embed_queries(block)]
        # Article text only: front-matter question points are phrasings, not content
        # (retrieval does not let them ground an answer either).
        for hits in store.nearest(version, vectors, limit=1, skip_kind="question"):
            scores.append(hits[0].score if hits else 0.0)
    return scores


def calibrate(
    store: IndexStore,
    version: str,
    embedder: Embedder,
    chunks: Sequence[PreparedChunk],
) -> Calibration:
    """Measure the probes against ``version`` and place the floor between them."""
    off = _best_scores(store, version, embedder, off_topic_probes())
    inside = _best_scores(store, version, embedder, in_domain_probes(chunks))
    off_q = float(np.quantile(off, OFF_TOPIC_QUANTILE)) if off else MIN_FLOOR
    in_q = float(np.quantile(inside, IN_DOMAIN_QUANTILE)) if inside else MAX_FLOOR
    floor = min(max(min(off_q, in_q), MIN_FLOOR), MAX_FLOOR)
    return Calibration(floor=floor, off_topic=off_q, in_domain=in_q, probes=len(off) + len(inside))
