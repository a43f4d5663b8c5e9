"""Questions grouped by meaning: embedded with the index's own model, clustered by
scikit-learn's agglomerative clustering (average linkage, cosine distance, a distance
threshold instead of a fixed number of clusters; deterministic for the same input).

Identical texts are one point with a weight, so a question asked a thousand times costs
what one costs. Embeddings are cached in the log's database (``question_vectors``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import AgglomerativeClustering
from sqlalchemy.exc import SQLAlchemyError

from kbcore.embedding.base import Embedder
from service.analytics.store import ConversationStore
from service.database.engine import describe

log = logging.getLogger(__name__)
# Cosine distance under which phrasings are one question, on average between two groups.
# Tuned on a fixture of known paraphrase groups (tests/fixtures/analytics/paraphrases.jsonl):
# 0.5 scores an adjusted Rand index of 0.83 there (0.45: 0.76, 0.55: 0.70, where the
# groups "fine-tuning cost" and "cost of fine-tuning Gemini 1.5 Pro" merge). What MiniLM
# cannot do is expand acronyms: "What is RAG?" and "explain retrieval-augmented
# generation" stay apart.
DISTANCE_THRESHOLD = 0.5
MAX_TEXTS = 2000  # distinct texts clustered per call (the most asked first)


@dataclass(frozen=True)
class Cluster:
    """Indices of the texts that form one question, most asked first, and its centroid."""

    members: list[int]
    centroid: NDArray[np.float32]


def labels(vectors: NDArray[np.float32], threshold: float = DISTANCE_THRESHOLD) -> list[int]:
    """A cluster label per row of ``vectors`` (L2-normalised)."""
    if len(vectors) == 0:
        return []
    if len(vectors) == 1:
        return [0]
    model = AgglomerativeClustering(
        n_clusters=None, distance_threshold=threshold, metric="cosine", linkage="average"
    )
    return [int(label) for label in model.fit_predict(vectors)]


def embed(
    texts: Sequence[str], embedder: Embedder, store: ConversationStore
) -> NDArray[np.float32]:
    """Embeddings of ``texts`` (cached ones from the store, the rest computed and saved)."""
    cached: dict[str, NDArray[np.float32]] = {}
    try:
        cached = store.vectors(texts, embedder.model_id)
    except SQLAlchemyError as exc:
        log.warning("question embeddings cache unavailable: %s", describe(exc))
    missing = [text for text in texts if text not in cached or len(cached[text]) != embedder.dim]
    if missing:
        fresh = embedder.embed_documents(missing)
        computed = {text: fresh[i] for i, text in enumerate(missing)}
        cached.update(computed)
        try:
            store.save_vectors(computed, embedder.model_id)
        except SQLAlchemyError as exc:
            log.warning("could not cache question embeddings: %s", describe(exc))
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.stack([cached[text] for text in texts]).astype(np.float32)


def cluster(
    texts: Sequence[str],
    weights: Sequence[int],
    embedder: Embedder,
    store: ConversationStore,
    threshold: float = DISTANCE_THRESHOLD,
) -> list[Cluster]:
    """Clusters of distinct ``texts`` (each asked ``weights[i]`` times), largest first."""
    vectors = embed(texts, embedder, store)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels(vectors, threshold)):
        groups.setdefault(label, []).append(index)
    out = []
    for members in groups.values():
        members.sort(key=lambda i: (-weights[i], i))
        w = np.array([weights[i] for i in members], dtype=np.float32)
        mean = (vectors[members] * w[:, None]).sum(axis=0)
        centroid = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
        out.append(Cluster(members=members, centroid=centroid))
    out.sort(key=lambda c: (-sum(weights[i] for i in c.members), c.members[0]))
    return out
