"""Side by side: this project's pipeline against the one a user writes from llama-index's
quick start, on the same content, golden questions, embedding model and embedded Qdrant.

The baseline: SimpleDirectoryReader over content/, the default SentenceSplitter,
VectorStoreIndex over QdrantVectorStore (in-memory), the default retriever (top-k 2),
citations taken from the retrieved nodes, and an extractive answer from the top node (its
four sentences most similar to the question, by the same embedding model).

Each side runs in its own process so peak memory is its own.

    python bench/compare_llamaindex.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.load import percentile  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "content"
GOLDEN = ROOT / "eval" / "golden.jsonl"


def golden() -> list[dict[str, Any]]:
    return [json.loads(line) for line in GOLDEN.read_text().splitlines() if line.strip()]


def summarize(
    rankings: dict[str, list[str]],
    answers: dict[str, str],
    retrieval_ms: list[float],
    answer_ms: list[float],
    ingest_s: float,
) -> dict[str, float]:
    questions = [q for q in golden() if q["answerable"]]
    ranks = []
    for q in questions:
        ranking = rankings[q["id"]]
        ranks.append(ranking.index(q["article"]) + 1 if q["article"] in ranking else None)
    facts = sum(len(q["facts"]) for q in questions)
    found = sum(f.lower() in answers[q["id"]].lower() for q in questions for f in q["facts"])
    return {
        "hit_at_3": sum(1 for r in ranks if r is not None and r <= 3) / len(ranks),
        "mrr": sum(1 / r for r in ranks if r is not None) / len(ranks),
        "answer_in_context": found / facts,
        "ingest_s": ingest_s,
        "retrieval_p50_ms": statistics.median(retrieval_ms),
        "retrieval_p95_ms": percentile(retrieval_ms, 0.95),
        "answer_p50_ms": statistics.median(answer_ms),
        "answer_p95_ms": percentile(answer_ms, 0.95),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_ours() -> dict[str, float]:
    from ingest.runner import ingest
    from kbcore.answering.engine import ChatEngine
    from kbcore.answering.models import Turn
    from kbcore.runtime import Runtime
    from kbcore.settings import Settings

    settings = Settings(_env_file=None, content_dir=CONTENT)
    runtime = Runtime.open(settings, scratch=True)
    runtime.embedder.embed_query("warm-up")
    started = time.perf_counter()
    ingest(runtime, validators=())
    ingest_s = time.perf_counter() - started
    engine = ChatEngine(runtime.retriever)
    by_id = {q["id"]: q for q in golden()}
    rankings: dict[str, list[str]] = {}
    answers: dict[str, str] = {}
    retrieval_ms: list[float] = []
    answer_ms: list[float] = []

    async def ask_all() -> None:
        for q in golden():
            history = []
            if q["follow_up_of"]:
                first = by_id[q["follow_up_of"]]
                history = [Turn("user", first["question"]), Turn("assistant", answers[first["id"]])]
            started = time.perf_counter()
            answer = await engine.aanswer(q["question"], history)
            answer_ms.append((time.perf_counter() - started) * 1000)
            answers[q["id"]] = answer.answer
            started = time.perf_counter()
            hits = runtime.retriever.search(answer.query or q["question"], k=5).hits
            retrieval_ms.append((time.perf_counter() - started) * 1000)
            ranking: list[str] = []
            for hit in hits:
                if hit.article not in ranking:
                    ranking.append(hit.article)
            rankings[q["id"]] = ranking

    asyncio.run(ask_all())
    return summarize(rankings, answers, retrieval_ms, answer_ms, ingest_s)


def run_baseline() -> dict[str, float]:
    import numpy as np
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    from ingest.sentences import SentenceSplitter
    from kbcore.embedding.llama_index_adapter import LlamaIndexEmbedding
    from kbcore.embedding.onnx_minilm import OnnxMiniLM

    embedder = OnnxMiniLM()
    embedder.embed_query("warm-up")
    embed_model = LlamaIndexEmbedding(embedder)
    started = time.perf_counter()
    documents = SimpleDirectoryReader(
        str(CONTENT), required_exts=[".md"], exclude=["README.md"]
    ).load_data()
    store = QdrantVectorStore(client=QdrantClient(location=":memory:"), collection_name="baseline")
    index = VectorStoreIndex.from_documents(
        documents,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embed_model,
    )
    ingest_s = time.perf_counter() - started
    retriever = index.as_retriever()  # the quick start's default: top-k 2
    splitter = SentenceSplitter()
    rankings: dict[str, list[str]] = {}
    answers: dict[str, str] = {}
    retrieval_ms: list[float] = []
    answer_ms: list[float] = []
    for q in golden():
        started = time.perf_counter()
        nodes = retriever.retrieve(q["question"])
        retrieval_ms.append((time.perf_counter() - started) * 1000)
        ranking: list[str] = []
        for node in nodes:
            slug = Path(node.node.metadata.get("file_name", "")).stem
            if slug not in ranking:
                ranking.append(slug)
        rankings[q["id"]] = ranking
        # Extractive answer from the top node: its 4 sentences closest to the question.
        text = nodes[0].node.get_content() if nodes else ""
        sentences = [text[a:b] for a, b in splitter.spans(text)]
        if sentences:
            vectors = embedder.embed_documents(sentences)
            scores = vectors @ embedder.embed_query(q["question"])
            best = sorted(np.argsort(-scores)[:4].tolist())
            answers[q["id"]] = " ".join(sentences[i] for i in best)
        else:
            answers[q["id"]] = ""
        answer_ms.append((time.perf_counter() - started) * 1000)
    return summarize(rankings, answers, retrieval_ms, answer_ms, ingest_s)


def side(name: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--side", name], capture_output=True, text=True, check=True
    )
    parsed: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=["ours", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args()
    if args.side:
        result = run_ours() if args.side == "ours" else run_baseline()
        print(json.dumps(result))
        return
    ours, base = side("ours"), side("baseline")
    print(f"{'metric':<20}{'ours':>10}{'llama-index':>13}{'ratio':>8}")
    for key in ours:
        ratio = ours[key] / base[key] if base[key] else float("inf")
        print(f"{key:<20}{ours[key]:>10.3f}{base[key]:>13.3f}{ratio:>8.2f}")
    better = all(ours[k] >= base[k] for k in ("hit_at_3", "mrr", "answer_in_context"))
    faster = ours["answer_p95_ms"] <= base["answer_p95_ms"]
    print(f"quality better on all three: {better}; answer p95 no slower: {faster}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"ours": ours, "llama_index": base}, indent=2))


if __name__ == "__main__":
    main()
