"""Hybrid retrieval over the real content: golden questions find their article."""

from __future__ import annotations

from typing import Any

from kbcore.runtime import Runtime
from kbcore.sparse import BM25Encoder


def _query(q: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> str:
    # Follow-ups are checked with their conversation in the chat tests; here the first
    # question gives the context a standalone query would have.
    if q["follow_up_of"]:
        return f"{by_id[q['follow_up_of']]['question']} {q['question']}"
    return str(q["question"])


def test_golden_questions_find_their_article_in_the_top_3(
    content_runtime: Runtime, golden: list[dict[str, Any]]
) -> None:
    by_id = {q["id"]: q for q in golden}
    answerable = [q for q in golden if q["answerable"]]
    found = 0
    misses = []
    for q in answerable:
        hits = content_runtime.retriever.search(_query(q, by_id), k=3).hits
        if q["article"] in [h.article for h in hits]:
            found += 1
        else:
            misses.append((q["id"], q["question"], [h.article for h in hits]))
    assert found / len(answerable) >= 0.9, misses


def test_hybrid_beats_or_matches_each_signal_alone(
    content_runtime: Runtime, golden: list[dict[str, Any]]
) -> None:
    by_id = {q["id"]: q for q in golden}
    answerable = [q for q in golden if q["answerable"]]

    def hit_at_1(mode: str) -> float:
        ok = 0
        for q in answerable:
            hits = content_runtime.retriever.search(_query(q, by_id), k=1, mode=mode).hits  # type: ignore[arg-type]
            ok += bool(hits) and hits[0].article == q["article"]
        return ok / len(answerable)

    hybrid, dense, sparse = hit_at_1("hybrid"), hit_at_1("dense"), hit_at_1("sparse")
    assert hybrid >= max(dense, sparse) - 0.02, (hybrid, dense, sparse)


def test_one_hit_per_section_with_each_signal_score(content_runtime: Runtime) -> None:
    hits = content_runtime.retriever.search("how much does fine-tuning cost", k=10).hits
    keys = [(h.article, h.anchor) for h in hits]
    assert len(keys) == len(set(keys)) == 10
    assert hits[0].article == "fine-tuning-cost"
    assert all(h.dense_score is not None for h in hits[:3])
    assert hits[0].sparse_score is not None and hits[0].sparse_score > 0
    assert hits == sorted(hits, key=lambda h: -h.score)
    assert hits[0].url == f"/learn/fine-tuning-cost#{hits[0].anchor}"


def test_tag_filter_keeps_only_tagged_sections(content_runtime: Runtime) -> None:
    hits = content_runtime.retriever.search(
        "how much does fine-tuning cost", k=5, tags=["rag"]
    ).hits
    assert hits
    for hit in hits:
        chunk_tags = hit.chunks[0].tags
        assert "rag" in chunk_tags
    assert all(h.article != "fine-tuning-cost" for h in hits)


def test_query_of_only_stopwords_still_returns_dense_hits(content_runtime: Runtime) -> None:
    assert BM25Encoder().encode_query("what is the").indices == []
    assert content_runtime.retriever.search("what is the", k=3).hits


def test_bm25_terms_are_stemmed_and_hyphen_aware() -> None:
    encoder = BM25Encoder()
    assert encoder.terms("Fine-tuning costs") == encoder.terms("fine-tuning cost")
    assert set(encoder.terms("fine tuning")) <= set(encoder.terms("fine-tuning"))
    doc = encoder.encode_document("cost cost cost model")
    weights = dict(zip(doc.indices, doc.values, strict=True))
    cost_id = encoder.encode_query("cost").indices[0]
    model_id = encoder.encode_query("model").indices[0]
    assert weights[cost_id] > weights[model_id] > 0
