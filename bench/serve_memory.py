"""Peak memory of `kb serve` over a large index: the 11,429 Vaswani abstracts.

Builds (or reuses) the index with `kb ingest`, starts `kb serve` on it as a subprocess,
waits until it is ready, replays search and chat requests, and prints the server's peak
resident memory (VmHWM) and its memory once idle (VmRSS). Pass ``--repo`` to measure
another checkout of the project (an earlier release) with the same corpus.

    python bench/serve_memory.py [--repo PATH] [--data DIR] [--requests N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx  # noqa: E402

from bench import vaswani_corpus  # noqa: E402
from bench.load import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def memory_kb(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout to measure")
    parser.add_argument("--data", type=Path, help="data folder (default: a cache per checkout)")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    corpus = vaswani_corpus.load()
    content = vaswani_corpus.write_articles(corpus)
    data = args.data or vaswani_corpus.CACHE / f"serve-data-{args.repo.resolve().name}"
    env = {
        **os.environ,
        "PYTHONPATH": str(args.repo.resolve()),
        "KB_CONTENT_DIR": str(content),
        "KB_DATA_DIR": str(data),
        "KB_CANARY_QUESTIONS": "0",
        "KB_RATE_LIMIT_PER_MINUTE": "0",
    }
    command = [sys.executable, "-m", "kbcli.main"]
    started = time.perf_counter()
    subprocess.run([*command, "ingest"], env=env, check=True, cwd=args.repo)
    print(f"index ready in {time.perf_counter() - started:.0f}s")
    port = free_port()
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        env={**env, "KB_SYNC_ON_START": "false"},
        cwd=args.repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not become ready")
                time.sleep(0.5)
            ready = memory_kb(server.pid)
            questions = list(corpus.queries.values())
            for n in range(args.requests):
                query = questions[n % len(questions)]
                client.get("/v1/search", params={"q": query, "k": 5})
                client.post("/v1/chat", json={"message": query})
            after = memory_kb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {
        "ready_rss_mb": ready["VmRSS"] / 1024,
        "peak_rss_mb": after["VmHWM"] / 1024,
        "rss_after_mb": after["VmRSS"] / 1024,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
