"""Ingest benchmark: index content/ and the 11,429-abstract Vaswani corpus end to end.

Prints: model load time; content/ full build and no-change run; Vaswani full build,
no-change run and one-article edits (three, median: in one process that keeps its parsed
pages, as `kb serve` does for its rebuilds; and one by a one-shot `kb ingest`, which
parses every file); and the pipeline's chunks/s against the raw embedder's on the same
texts (target: pipeline >= 0.8 x embedder).

    python bench/ingest.py [--skip-vaswani] [--raw-sample N]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where this file would shadow the
# `ingest` package: put the repository root there instead.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from ingest.articles import load_content  # noqa: E402
from ingest.page_cache import PageCache  # noqa: E402
from ingest.runner import build_options, ingest, make_indexer  # noqa: E402
from kbcore.embedding.onnx_minilm import OnnxMiniLM  # noqa: E402
from kbcore.runtime import Runtime  # noqa: E402
from kbcore.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def timed_ingest(
    runtime: Runtime, pages: PageCache | None = None
) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    report = ingest(runtime, pages=pages)
    return time.perf_counter() - started, report.to_json()


def raw_embedder_rate(embedder: OnnxMiniLM, texts: list[str]) -> float:
    started = time.perf_counter()
    embedder.embed_documents(texts)
    return len(texts) / (time.perf_counter() - started)


def bench_content(embedder: OnnxMiniLM, work: Path) -> dict[str, float]:
    settings = Settings(
        _env_file=None, content_dir=ROOT / "content", data_dir=work / "content-data"
    )
    runtime = Runtime.open(settings, embedder=embedder)
    full_s, full = timed_ingest(runtime)
    again_s, again = timed_ingest(runtime)
    indexer = make_indexer(runtime)
    articles = load_content(settings.content_dir).articles
    texts = [c.embed_text for c in indexer.prepare(articles, build_options(runtime).chunking)]
    raw = raw_embedder_rate(embedder, texts)
    runtime.close()
    chunks = int(full["chunks"])  # type: ignore[call-overload]
    out = {
        "content_chunks": chunks,
        "content_full_build_s": full_s,
        "content_pipeline_chunks_per_s": chunks / full_s,
        "content_raw_embedder_chunks_per_s": raw,
        "content_no_change_s": again_s,
        "content_no_change_embedded": float(again["embedded"]),  # type: ignore[arg-type]
    }
    print(
        f"content/: {chunks} chunks, full build {full_s:.2f}s "
        f"({chunks / full_s:.1f} chunks/s; raw embedder {raw:.1f}/s, "
        f"ratio {chunks / full_s / raw:.2f}); no-change run {again_s:.3f}s, "
        f"embedded {again['embedded']}"
    )
    return out


def bench_vaswani(embedder: OnnxMiniLM, work: Path, raw_sample: int) -> dict[str, float]:
    from bench import vaswani_corpus

    corpus = vaswani_corpus.load()
    content = vaswani_corpus.write_articles(corpus, work / "vaswani-content")
    settings = Settings(_env_file=None, content_dir=content, data_dir=work / "vaswani-data")
    runtime = Runtime.open(settings, embedder=embedder)
    pages = PageCache()  # as `kb serve` keeps one: its rebuilds re-parse only what changed
    full_s, full = timed_ingest(runtime, pages)
    chunks = int(full["chunks"])  # type: ignore[call-overload]
    print(
        f"vaswani: {full['articles']} articles, {chunks} chunks, full build {full_s:.1f}s "
        f"({chunks / full_s:.1f} chunks/s)"
    )
    again_s, again = timed_ingest(runtime, pages)
    print(f"vaswani: no-change run {again_s:.2f}s, embedded {again['embedded']}")
    edits: list[float] = []
    for victim in (content / "npl-42.md", content / "npl-43.md", content / "npl-44.md"):
        original = victim.read_text()
        victim.write_text(original.rstrip() + " an added sentence about waveguides.\n")
        edit_s, edit = timed_ingest(runtime, pages)
        edits.append(edit_s)
        victim.write_text(original)
        print(
            f"vaswani: one-article edit in the running service {edit_s:.2f}s "
            f"({edit_s / full_s:.1%} of the full build), embedded {edit['embedded']}"
        )
    timed_ingest(runtime, pages)  # back to the original text
    victim = content / "npl-45.md"
    original = victim.read_text()
    victim.write_text(original.rstrip() + " an added sentence about waveguides.\n")
    oneshot_s, _ = timed_ingest(runtime)  # nothing parsed before: as a one-shot `kb ingest`
    victim.write_text(original)
    timed_ingest(runtime)
    print(f"vaswani: one-article edit by a one-shot kb ingest {oneshot_s:.2f}s")
    edit_s = statistics.median(edits)
    indexer = make_indexer(runtime)
    articles = load_content(content).articles
    texts = [c.embed_text for c in indexer.prepare(articles, build_options(runtime).chunking)]
    runtime.close()
    sample = random.Random(7).sample(texts, min(raw_sample, len(texts)))
    raw = raw_embedder_rate(embedder, sample)
    ratio = chunks / full_s / raw
    print(
        f"vaswani: raw embedder {raw:.1f} chunks/s on {len(sample)} of the same texts; "
        f"pipeline/embedder = {ratio:.2f} (target >= 0.80)"
    )
    return {
        "vaswani_chunks": chunks,
        "vaswani_full_build_s": full_s,
        "vaswani_pipeline_chunks_per_s": chunks / full_s,
        "vaswani_raw_embedder_chunks_per_s": raw,
        "vaswani_pipeline_ratio": ratio,
        "vaswani_no_change_s": again_s,
        "vaswani_edit_s": edit_s,
        "vaswani_edit_share_of_full": edit_s / full_s,
        "vaswani_edit_oneshot_s": oneshot_s,
        "vaswani_edit_embedded": float(edit["embedded"]),  # type: ignore[arg-type]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-vaswani", action="store_true")
    parser.add_argument("--raw-sample", type=int, default=3000)
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args()
    started = time.perf_counter()
    embedder = OnnxMiniLM()
    embedder.embed_documents(["warm-up so both measurements start from a loaded model"] * 4)
    load_s = time.perf_counter() - started
    print(f"model load {load_s:.2f}s")
    work = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    try:
        results: dict[str, float] = {"model_load_s": load_s}
        results |= bench_content(embedder, work)
        if not args.skip_vaswani:
            results |= bench_vaswani(embedder, work, args.raw_sample)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
