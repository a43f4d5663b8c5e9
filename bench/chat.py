"""HTTP latency of `/v1/search` and `/v1/chat` (extractive) on the embedded defaults.

Starts `kb serve`'s app with uvicorn in a child process (so the load generator's threads
do not share the server's interpreter) on a free port over an on-disk embedded index of
content/, waits until it is ready and its answer cache is warm, then replays the golden
questions at each concurrency (1, 8 and 20 by default) and prints p50/p95 latency and
requests/s. With ``--repeat N`` every measurement is taken N times, interleaved, and the
median of each figure is printed (the machine is shared and noisy). Targets on a 2-core
machine: search p95 <= 50 ms and chat p95 <= 100 ms at concurrency 1.

    python bench/chat.py [--requests N] [--concurrency 1,8,20] [--repeat 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(
    base: str, route: str, questions: list[str], concurrency: int, total: int
) -> dict[str, float]:
    def one(i: int) -> float:
        question = questions[i % len(questions)]
        started = time.perf_counter()
        if route == "search":
            response = client.get(f"{base}/v1/search", params={"q": question, "k": 5})
        else:
            response = client.post(f"{base}/v1/chat", json={"message": question})
        response.raise_for_status()
        return (time.perf_counter() - started) * 1000

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(timeout=120, limits=limits) as client:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            latencies = list(pool.map(one, range(total)))
        elapsed = time.perf_counter() - started
    return {
        "p50_ms": statistics.median(latencies),
        "p95_ms": percentile(latencies, 0.95),
        "rps": total / elapsed,
    }


def serve(port: int, data: Path) -> None:
    """The child process: the app on the embedded defaults, served by uvicorn."""
    import uvicorn

    from kbcore.settings import Settings
    from service.app import create_app

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, content_dir=ROOT / "content", data_dir=data, rate_limit_per_minute=0
    )
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


def wait_ready(base: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while True:  # ready, and the answer cache warmed (as after any start or reindex)
        if child.poll() is not None:
            raise SystemExit("the service exited before it was ready")
        try:
            ready = httpx.get(f"{base}/readyz")
            if ready.status_code == 200 and ready.json()["answer_cache"] == "warm":
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the service did not become ready")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per measurement")
    parser.add_argument("--concurrency", default="1,8,20", help="comma-separated levels")
    parser.add_argument("--repeat", type=int, default=1, help="measure each N times (median)")
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.data)
        return
    levels = [int(level) for level in args.concurrency.split(",") if level.strip()]
    golden = [
        json.loads(line) for line in (ROOT / "eval" / "golden.jsonl").read_text().splitlines()
    ]
    questions = [q["question"] for q in golden if not q["follow_up_of"]]
    work = Path(tempfile.mkdtemp(prefix="kb-bench-chat-"))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", str(port), "--data", str(work)],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, child)
        # First pass: every question new to the service.
        run(base, "search", questions[:5], 1, 5)  # loads the vocabulary of the index version
        results: dict[str, dict[str, float]] = {}
        print(f"{'route':<14}{'conc':>6}{'p50 ms':>10}{'p95 ms':>10}{'req/s':>9}")
        cold = run(base, "chat", questions, 1, len(questions))
        results["chat_first_time_c1"] = cold
        row = f"{cold['p50_ms']:>10.1f}{cold['p95_ms']:>10.1f}{cold['rps']:>9.1f}"
        print(f"{'chat (new q)':<14}{1:>6}{row}")
        samples: dict[str, list[dict[str, float]]] = {}
        for _ in range(args.repeat):
            for route in ("search", "chat"):
                for concurrency in levels:
                    total = max(args.requests, 5 * concurrency)
                    r = run(base, route, questions, concurrency, total)
                    samples.setdefault(f"{route}_c{concurrency}", []).append(r)
        for key, runs in samples.items():
            route, concurrency = key.rsplit("_c", 1)
            r = {name: statistics.median(s[name] for s in runs) for name in runs[0]}
            results[key] = r
            print(
                f"{route:<14}{concurrency:>6}{r['p50_ms']:>10.1f}{r['p95_ms']:>10.1f}"
                f"{r['rps']:>9.1f}"
            )
        if "search_c1" in results and "chat_c1" in results:
            ok_search = results["search_c1"]["p95_ms"] <= 50
            ok_chat = results["chat_c1"]["p95_ms"] <= 100
            print(
                f"targets: search p95 <= 50 ms {'met' if ok_search else 'MISSED'}; "
                f"chat p95 <= 100 ms {'met' if ok_chat else 'MISSED'}"
            )
    finally:
        child.terminate()
        child.wait(timeout=30)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
