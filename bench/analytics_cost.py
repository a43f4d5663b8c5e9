"""Cost of the conversation log: chat latency with KB_ANALYTICS on and off.

Two services on the same embedded index of content/ (each served by uvicorn in a thread),
one logging and one not, asked the golden questions in alternating rounds of one run (so
load from anything else on the machine falls on both alike). Prints each one's p50/p95 and
the ratio (target: on within 1.1x of off), and how many log rows were written or dropped.

    python bench/analytics_cost.py [--requests N] [--rounds R] [--concurrency C] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

import uvicorn  # noqa: E402

from bench.load import free_port, latencies, percentile  # noqa: E402
from kbcore.settings import Settings  # noqa: E402
from service.app import create_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def serve_app(app: object) -> tuple[str, uvicorn.Server, threading.Thread]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the service did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


def analytics_cost(args: argparse.Namespace, questions: list[str], work: Path) -> None:
    """Chat latency with the conversation log on and off, in alternating rounds."""
    from ingest.runner import ingest
    from kbcore.runtime import Runtime

    def settings(folder: str, analytics: bool) -> Settings:
        return Settings(
            _env_file=None,
            content_dir=ROOT / "content",
            data_dir=work / folder,
            rate_limit_per_minute=0,
            analytics=analytics,
        )

    runtime = Runtime.open(settings("index", False))
    ingest(runtime)
    apps = {
        mode: create_app(settings(mode, mode == "on"), runtime=runtime, sync_on_start=False)
        for mode in ("on", "off")
    }
    servers = {mode: serve_app(app) for mode, app in apps.items()}
    for mode, app in apps.items():  # warm each service's answer cache, as after a start
        state = app.state.kb
        state.warm_in_background()
        deadline = time.monotonic() + 300
        while state.warmed_version is None:
            if time.monotonic() > deadline:
                raise SystemExit(f"the {mode} service did not warm up")
            time.sleep(0.1)
        latencies(servers[mode][0], "chat", questions, 1, len(questions))  # every question once
    found: dict[str, list[float]] = {"on": [], "off": []}
    per_round = max(1, args.requests // args.rounds)
    for number in range(args.rounds):
        order = ("on", "off") if number % 2 == 0 else ("off", "on")
        for mode in order:
            measured, _ = latencies(
                servers[mode][0], "chat", questions, args.concurrency, per_round, number * 7
            )
            found[mode] += measured
    log = apps["on"].state.kb.conversation_log()
    log.flush(30)
    stats = log.writer.stats
    print(
        f"chat at concurrency {args.concurrency}, {len(found['on'])} requests each, "
        f"{args.rounds} alternating rounds"
    )
    print(f"{'analytics':<12}{'p50 ms':>10}{'p95 ms':>10}")
    results = {}
    for mode in ("off", "on"):
        p50, p95 = statistics.median(found[mode]), percentile(found[mode], 0.95)
        results[mode] = {"p50_ms": p50, "p95_ms": p95}
        print(f"{mode:<12}{p50:>10.1f}{p95:>10.1f}")
    ratio = results["on"]["p95_ms"] / results["off"]["p95_ms"]
    print(
        f"p95 on / off: {ratio:.3f} ({'met' if ratio <= 1.1 else 'MISSED'}: target <= 1.1); "
        f"log rows written {stats.written}, dropped {stats.dropped}"
    )
    for _, server, thread in servers.values():
        server.should_exit = True
        thread.join(timeout=10)
    runtime.close()
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({**results, "p95_ratio": ratio}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per service")
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds")
    parser.add_argument("--concurrency", type=int, default=1, help="concurrent clients")
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args()
    golden = [
        json.loads(line) for line in (ROOT / "eval" / "golden.jsonl").read_text().splitlines()
    ]
    questions = [q["question"] for q in golden if not q["follow_up_of"]]
    analytics_cost(args, questions, Path(tempfile.mkdtemp(prefix="kb-bench-analytics-")))


if __name__ == "__main__":
    main()
