"""Retrieval quality on the Vaswani (NPL) collection through the project's own search path.

Indexes the 11,429 abstracts (one Markdown article each) with `kb`'s pipeline into an
embedded Qdrant on disk (reused on later runs), runs the 93 queries through
``Retriever.search`` in dense, sparse (BM25) and hybrid (RRF) modes, and prints nDCG@10
and R@100 beside the reference figures of ../shared/datasets/README.md.

    python bench/vaswani.py [--fresh]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench import vaswani_corpus  # noqa: E402
from ingest.runner import ingest  # noqa: E402
from kbcore.metrics import ndcg_at, recall_at  # noqa: E402
from kbcore.runtime import Runtime  # noqa: E402
from kbcore.settings import Settings  # noqa: E402

REFERENCE = {"sparse": (0.381, 0.495), "dense": (0.435, 0.609), "hybrid": (0.469, 0.648)}
LABEL = {"sparse": "BM25 (sparse)", "dense": "MiniLM dense", "hybrid": "hybrid RRF"}


def score(corpus: vaswani_corpus.Vaswani, rank: Callable[[str], list[str]]) -> dict[str, float]:
    """nDCG@10, R@100 and p50 latency of a ranking function (query -> doc numbers)."""
    ndcgs, recalls, latencies = [], [], []
    for qid, query in corpus.queries.items():
        relevant = corpus.qrels.get(qid, set())
        if not relevant:
            continue
        started = time.perf_counter()
        ranked = rank(query)
        latencies.append((time.perf_counter() - started) * 1000)
        ndcgs.append(ndcg_at(ranked, relevant, 10))
        recalls.append(recall_at(ranked, relevant, 100))
    return {
        "ndcg_at_10": statistics.fmean(ndcgs),
        "recall_at_100": statistics.fmean(recalls),
        "queries": float(len(ndcgs)),
        "latency_p50_ms": statistics.median(latencies),
    }


def evaluate(runtime: Runtime, corpus: vaswani_corpus.Vaswani, mode: str) -> dict[str, float]:
    def rank(query: str) -> list[str]:
        hits = runtime.retriever.search(query, k=100, mode=mode).hits  # type: ignore[arg-type]
        return [hit.article.removeprefix("npl-") for hit in hits]

    return score(corpus, rank)


def evaluate_llama_index(corpus: vaswani_corpus.Vaswani) -> dict[str, float]:
    """The plain llama-index pipeline on the same abstracts: default SentenceSplitter,
    VectorStoreIndex over an in-memory QdrantVectorStore, the same embedding model;
    top-k raised to 100 so nDCG@10 and R@100 can be computed."""
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    from kbcore.embedding.llama_index_adapter import LlamaIndexEmbedding
    from kbcore.embedding.onnx_minilm import OnnxMiniLM

    started = time.perf_counter()
    documents = [Document(text=text, doc_id=docno) for docno, text in corpus.docs.items()]
    store = QdrantVectorStore(client=QdrantClient(location=":memory:"), collection_name="npl")
    index = VectorStoreIndex.from_documents(
        documents,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=LlamaIndexEmbedding(OnnxMiniLM()),
    )
    print(f"llama-index baseline indexed in {time.perf_counter() - started:.1f}s")
    retriever = index.as_retriever(similarity_top_k=100)

    def rank(query: str) -> list[str]:
        ranked: list[str] = []
        for node in retriever.retrieve(query):
            docno = str(node.node.ref_doc_id)
            if docno not in ranked:
                ranked.append(docno)
        return ranked

    return score(corpus, rank)


def open_index(fresh: bool) -> tuple[Runtime, vaswani_corpus.Vaswani]:
    corpus = vaswani_corpus.load()
    content = vaswani_corpus.write_articles(corpus)
    data = vaswani_corpus.CACHE / "vaswani-data"
    if fresh:
        shutil.rmtree(data, ignore_errors=True)
    settings = Settings(_env_file=None, content_dir=content, data_dir=data, prefetch_limit=100)
    runtime = Runtime.open(settings)
    started = time.perf_counter()
    report = ingest(runtime)
    print(
        f"index: {report.articles} articles, {report.chunks} chunks, embedded "
        f"{report.embedded} in {time.perf_counter() - started:.1f}s"
    )
    return runtime, corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached index")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the plain llama-index comparison"
    )
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args()
    runtime, corpus = open_index(args.fresh)
    results = {}
    print(f"{'retrieval':<16} {'nDCG@10':>8} {'ref':>6} {'R@100':>7} {'ref':>6} {'p50 ms':>7}")
    for mode in ("sparse", "dense", "hybrid"):
        r = evaluate(runtime, corpus, mode)
        results[mode] = r
        ref_ndcg, ref_recall = REFERENCE[mode]
        print(
            f"{LABEL[mode]:<16} {r['ndcg_at_10']:>8.3f} {ref_ndcg:>6.3f} "
            f"{r['recall_at_100']:>7.3f} {ref_recall:>6.3f} {r['latency_p50_ms']:>7.1f}"
        )
    runtime.close()
    if not args.no_baseline:
        base = evaluate_llama_index(corpus)
        results["llama_index"] = base
        print(
            f"{'llama-index':<16} {base['ndcg_at_10']:>8.3f} {'':>6} "
            f"{base['recall_at_100']:>7.3f} {'':>6} {base['latency_p50_ms']:>7.1f}"
        )
    verdict = "meets" if results["hybrid"]["ndcg_at_10"] >= 0.469 else "MISSES"
    print(f"hybrid nDCG@10 {results['hybrid']['ndcg_at_10']:.3f} {verdict} the 0.469 target")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
