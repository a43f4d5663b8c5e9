"""The embedded store side by side: Qdrant Edge (the default) against qdrant-client's local
mode (the previous default) on identical vectors, as the knowledge base grows.

Vaswani abstracts are embedded once (cached) and written, one point per abstract, into
both stores at each size (331, 1k, 3k, 11.4k and 50k points; 50k repeats the abstracts
under distinct ids). For each size it prints how long the write took and the p50/p95 of
the project's hybrid search (dense + BM25 candidates, fused, payloads) in-process and
over HTTP through ``/v1/search`` (uvicorn, one client), and, past ``HNSW_POINTS``, Edge
with its HNSW index (what a build publishes) beside Edge searching exactly.

    python bench/store.py [--sizes 331,1000,3000,11433,50000] [--queries 93] [--no-http]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from qdrant_client import QdrantClient  # noqa: E402

from bench import vaswani_corpus  # noqa: E402
from bench.load import percentile  # noqa: E402
from kbcore.embedding.onnx_minilm import OnnxMiniLM  # noqa: E402
from kbcore.index_store import IndexStore, StoredPoint  # noqa: E402
from kbcore.retrieval import Retriever  # noqa: E402
from kbcore.runtime import Runtime  # noqa: E402
from kbcore.schema import ChunkPayload, IndexManifest, new_version  # noqa: E402
from kbcore.settings import Settings  # noqa: E402
from kbcore.sparse import BM25Encoder  # noqa: E402
from kbcore.stores.edge import HNSW_POINTS, EdgeStore  # noqa: E402
from kbcore.stores.qdrant import QdrantStore  # noqa: E402
from service.app import create_app  # noqa: E402

VECTORS = vaswani_corpus.CACHE / "vaswani-vectors.npy"


def embedded(corpus: vaswani_corpus.Vaswani, embedder: OnnxMiniLM) -> tuple[list[str], Any]:
    docs = sorted(corpus.docs.items())
    if VECTORS.is_file():
        vectors = np.load(VECTORS)
        if len(vectors) == len(docs):
            return [d for d, _ in docs], vectors
    started = time.perf_counter()
    vectors = embedder.embed_documents([text for _, text in docs])
    print(f"embedded {len(docs)} abstracts in {time.perf_counter() - started:.0f}s (cached)")
    VECTORS.parent.mkdir(parents=True, exist_ok=True)
    np.save(VECTORS, vectors)
    return [d for d, _ in docs], vectors


def points(
    corpus: vaswani_corpus.Vaswani, docnos: list[str], vectors: Any, size: int
) -> list[StoredPoint]:
    encoder = BM25Encoder(avgdl=60.0)
    out = []
    for n in range(size):
        docno = docnos[n % len(docnos)]
        copy = n // len(docnos)
        text = corpus.docs[docno]
        slug = f"npl-{docno}" + (f"-{copy}" if copy else "")
        payload = ChunkPayload(
            article=slug, title=docno, url=f"/learn/{slug}", anchor="", heading=docno,
            heading_path=docno, level=0, kind="overview", section_index=0, chunk_index=0,
            chunk_count=1, text=text, start=0, sentences=[(0, len(text))], tags=["npl"],
            updated="1970-01-01", summary="", content_hash="", section_hash="",
            path=f"{slug}.md", page_url=f"/learn/{slug}",
        )  # fmt: skip
        out.append(
            StoredPoint(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, slug)),
                dense=[float(x) for x in vectors[n % len(docnos)].tolist()],
                sparse=encoder.encode_document(text),
                payload=payload.model_dump(),
            )
        )
    return out


def fill(store: IndexStore, data: list[StoredPoint]) -> tuple[str, float]:
    version = new_version()
    manifest = IndexManifest(
        embed_model="all-MiniLM-L6-v2-int8", dim=384, sparse_model="bm25", avgdl=60.0,
        created_at="", articles=len(data), sections=len(data), chunks=len(data),
    )  # fmt: skip
    started = time.perf_counter()
    store.create(version, manifest)
    store.upsert(version, data)
    store.finish(version)
    seconds = time.perf_counter() - started
    store.set_manifest(version, manifest.model_copy(update={"status": "ready"}))
    store.switch(version)
    return version, seconds


def percentiles(samples: list[float]) -> tuple[float, float]:
    return statistics.median(samples), percentile(samples, 0.95)


def in_process(retriever: Retriever, vectors: list[Any], queries: list[str]) -> tuple[float, float]:
    for query, vector in zip(queries[:5], vectors[:5], strict=True):
        retriever.search(query, k=10, query_vector=vector)
    samples = []
    for query, vector in zip(queries, vectors, strict=True):
        started = time.perf_counter()
        retriever.search(query, k=10, query_vector=vector)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def over_http(
    store: IndexStore, embedder: OnnxMiniLM, queries: list[str], work: Path
) -> tuple[float, float]:
    settings = Settings(_env_file=None, data_dir=work, rate_limit_per_minute=0, sync_on_start=False)
    runtime = Runtime.open(settings, embedder=embedder, store=store)
    app = create_app(settings, runtime=runtime, sync_on_start=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    samples = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for query in queries[:5]:
                client.get("/v1/search", params={"q": query, "k": 10})
            for query in queries:
                started = time.perf_counter()
                response = client.get("/v1/search", params={"q": query, "k": 10})
                samples.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="331,1000,3000,11433,50000")
    parser.add_argument("--queries", type=int, default=93)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--edge-only", action="store_true", help="skip local mode (slow)")
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args()
    corpus = vaswani_corpus.load()
    embedder = OnnxMiniLM()
    docnos, vectors = embedded(corpus, embedder)
    queries = list(corpus.queries.values())[: args.queries]
    query_vectors = [embedder.embed_query(q) for q in queries]
    results: dict[str, Any] = {}
    print(f"{'points':>7} {'store':<12} {'write s':>8} {'search p50/p95':>18} {'HTTP p50/p95':>16}")
    for size in (int(s) for s in args.sizes.split(",")):
        data = points(corpus, docnos, vectors, size)
        row: dict[str, Any] = {}
        names = (
            ["edge", "edge-exact", "local-mode"] if size >= HNSW_POINTS else ["edge", "local-mode"]
        )
        for name in (n for n in names if not (args.edge_only and n == "local-mode")):
            work = Path(tempfile.mkdtemp(prefix=f"kb-bench-{name}-"))
            store: IndexStore = (
                EdgeStore(
                    work / "index", hnsw_points=10**9 if name == "edge-exact" else HNSW_POINTS
                )
                if name.startswith("edge")
                else QdrantStore(QdrantClient(path=str(work / "qdrant")), "kb", exclusive=True)
            )
            try:
                _, write_s = fill(store, data)
                retriever = Retriever(
                    store=store, embedder=embedder, encoder=BM25Encoder(avgdl=60.0)
                )
                p50, p95 = in_process(retriever, query_vectors, queries)
                http = (
                    (float("nan"), float("nan"))
                    if args.no_http
                    else over_http(store, embedder, queries, work)
                )
                row[name] = {"write_s": write_s, "search_p50_ms": p50, "search_p95_ms": p95,
                             "http_p50_ms": http[0], "http_p95_ms": http[1]}  # fmt: skip
                timing = f"{p50:>8.1f} / {p95:<7.1f} {http[0]:>7.1f} / {http[1]:<6.1f}"
                print(f"{size:>7} {name:<12} {write_s:>8.1f} {timing}", flush=True)
            finally:
                store.close()
                shutil.rmtree(work, ignore_errors=True)
        results[str(size)] = row
    if "11433" in results and "local-mode" in results["11433"]:
        r = results["11433"]
        share = r["edge"]["search_p50_ms"] / r["local-mode"]["search_p50_ms"]
        print(f"at 11.4k: Edge p50 is {share:.3f} of local mode's")
    if "1000" in results and "50000" in results:
        growth = (
            results["50000"]["edge"]["search_p95_ms"] / results["1000"]["edge"]["search_p95_ms"]
        )
        print(f"Edge p95 growth 1k -> 50k: {growth:.2f}x")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
