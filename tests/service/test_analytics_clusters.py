"""Question clustering on a fixture of known paraphrase groups, scored with scikit-learn's
adjusted Rand index: paraphrases of one question together, different questions apart;
embeddings cached in the log so a question is embedded once."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from kbcore.embedding.base import Vectors
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from service.analytics.clusters import cluster, embed, labels
from service.analytics.store import FILE_NAME, ConversationStore
from service.database.engine import Database
from tests.service.conftest import sqlite_log

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "analytics" / "paraphrases.jsonl"
MIN_ARI = 0.8  # 0.83 measured with the bundled MiniLM


@pytest.fixture(scope="module")
def groups() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines() if line.strip()]
    return [(row["group"], row["question"]) for row in rows]


class CountingEmbedder:
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, inner: OnnxMiniLM) -> None:
        self.inner = inner
        self.embedded = 0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        return self.inner.embed_query(text)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed_queries(texts)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


def test_paraphrases_cluster_together_and_different_questions_apart(
    embedder: OnnxMiniLM, groups: list[tuple[str, str]]
) -> None:
    truth = [group for group, _ in groups]
    found = labels(embedder.embed_documents([question for _, question in groups]))
    score = adjusted_rand_score(truth, found)
    print(
        f"adjusted Rand index on {len(groups)} questions in {len(set(truth))} groups: {score:.3f}"
    )
    assert score >= MIN_ARI
    # No cluster mixes two groups that share no topic (weather, SSO, injection, few-shot).
    for group in ("weather", "sso", "injection", "few-shot", "ft-cost", "pricing-gemini"):
        members = {found[i] for i, g in enumerate(truth) if g == group}
        assert len(members) == 1, f"{group} split over {members}"
        (label,) = members
        assert {truth[i] for i, f in enumerate(found) if f == label} == {group}


def test_a_single_question_and_none_cluster(embedder: OnnxMiniLM) -> None:
    assert labels(np.zeros((0, embedder.dim), dtype=np.float32)) == []
    assert labels(embedder.embed_documents(["What is RAG?"])) == [0]


def test_clusters_weigh_repeats_and_embeddings_are_cached(
    embedder: OnnxMiniLM,
    groups: list[tuple[str, str]],
    tmp_path: Path,
    backend: dict[str, Any],
) -> None:
    if "database_url" in backend:
        store = ConversationStore(Database(backend["database_url"], "heads"))
    else:
        store = ConversationStore(sqlite_log(tmp_path / FILE_NAME))
    counting = CountingEmbedder(embedder)
    texts = [q for g, q in groups if g in ("weather", "sso", "ft-cost")]
    weights = [10 if "weather" in t else 1 for t in texts]
    found = cluster(texts, weights, counting, store)
    assert len(found) == 3 and counting.embedded == len(texts)
    biggest = [texts[i] for i in found[0].members]
    assert all("paris" in t.lower() for t in biggest)  # asked 10 times each: first
    assert np.isclose(np.linalg.norm(found[0].centroid), 1.0, atol=1e-5)
    assert Counter(len(c.members) for c in found) == Counter({5: 1, 3: 2})

    again = cluster(texts, weights, counting, store)
    assert counting.embedded == len(texts)  # every embedding came from the cache
    assert [c.members for c in again] == [c.members for c in found]  # deterministic
    cached = embed(texts[:2], counting, store)
    assert np.allclose(cached, embedder.embed_documents(texts[:2]), atol=1e-6)
