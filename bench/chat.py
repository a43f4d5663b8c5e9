"""HTTP latency of `/v1/search` and `/v1/chat` (extractive) on the embedded defaults.

Starts `kb serve`'s app with uvicorn in a child process (so the load generator's threads
do not share the server's interpreter) on a free port over an on-disk embedded index of
content/, waits until it is ready and its answer cache is warm, then replays the golden
questions at each concurrency (1, 8 and 20 by default) and prints p50/p95 latency and
requests/s. With ``--repeat N`` every measurement is taken N times, interleaved, and the
median of each figure is printed (the machine is shared and noisy). Targets on a 2-core
machine: search p95 <= 50 ms and chat p95 <= 100 ms at concurrency 1.

With ``--compare PATH`` a second service runs from another checkout of the project (an
earlier release) over its own index of the same content/; the two are measured in turns
within one run (the order alternating), and the ratio of requests/s is printed per row.

With ``--set NAME`` the service indexes that question set's docs tree (from
``eval/thresholds.toml``, e.g. ``pydantic-docs``) and replays its questions instead.

    python bench/chat.py [--requests N] [--concurrency 1,8,20] [--repeat 3] [--out FILE]
    python bench/chat.py --compare ../before --repeat 3
    python bench/chat.py --set pydantic-docs --compare ../before
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx  # noqa: E402

from bench.load import free_port, latencies, summary  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def run(
    base: str, route: str, questions: list[str], concurrency: int, total: int
) -> dict[str, float]:
    return summary(*latencies(base, route, questions, concurrency, total))


def serve(port: int, data: Path, repo: Path, content: Path) -> None:
    """The child process: the app of checkout ``repo`` on the embedded defaults, served by
    uvicorn, over the docs in ``content``."""
    sys.path[0] = str(repo)
    import uvicorn

    from kbcore.settings import Settings
    from service.app import create_app

    settings = Settings(_env_file=None, content_dir=content, data_dir=data, rate_limit_per_minute=0)
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
    parser.add_argument("--compare", type=Path, help="also measure this earlier checkout")
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repo", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--content", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--set", help="a question set of eval/thresholds.toml (default: ours)")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.data, args.repo, args.content)
        return
    levels = [int(level) for level in args.concurrency.split(",") if level.strip()]
    content, golden_file = ROOT / "content", ROOT / "eval" / "golden.jsonl"
    if args.set:
        spec = tomllib.loads((ROOT / "eval" / "thresholds.toml").read_text())["sets"][args.set]
        content, golden_file = ROOT / spec["content"], ROOT / spec["golden"]
    golden = [json.loads(line) for line in golden_file.read_text().splitlines() if line.strip()]
    questions = [q["question"] for q in golden if not q.get("follow_up_of")]
    repos = {"after": ROOT} if args.compare is None else {"before": args.compare, "after": ROOT}
    children: dict[str, tuple[str, subprocess.Popen[bytes]]] = {}
    try:
        for name, repo in repos.items():
            children[name] = start(repo.resolve(), content)
        for base, child in children.values():
            wait_ready(base, child)
        results = measure(children, questions, levels, args)
    finally:
        for _, child in children.values():
            child.terminate()
            child.wait(timeout=30)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


def start(repo: Path, content: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """A service from checkout ``repo`` in a child process, on a fresh data folder."""
    work = Path(tempfile.mkdtemp(prefix="kb-bench-chat-"))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(repo), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(port)]
    command += ["--data", str(work), "--repo", str(repo), "--content", str(content)]
    return f"http://127.0.0.1:{port}", subprocess.Popen(command, env=env)


def measure(
    children: dict[str, tuple[str, subprocess.Popen[bytes]]],
    questions: list[str],
    levels: list[int],
    args: argparse.Namespace,
) -> dict[str, dict[str, dict[str, float]]]:
    """Every route and concurrency on every service, in turns; medians over repeats."""
    names = list(children)
    results: dict[str, dict[str, dict[str, float]]] = {name: {} for name in names}
    for name in names:
        base = children[name][0]
        run(base, "search", questions[:5], 1, 5)  # loads the vocabulary of the index version
        # First pass: every question new to the service.
        results[name]["chat_first_time_c1"] = run(base, "chat", questions, 1, len(questions))
    samples: dict[tuple[str, str], list[dict[str, float]]] = {}
    for number in range(args.repeat):
        for route in ("search", "chat"):
            for concurrency in levels:
                total = max(args.requests, 5 * concurrency)
                for name in names if number % 2 == 0 else names[::-1]:
                    r = run(children[name][0], route, questions, concurrency, total)
                    samples.setdefault((name, f"{route}_c{concurrency}"), []).append(r)
    for (name, key), runs in samples.items():
        results[name][key] = {k: statistics.median(s[k] for s in runs) for k in runs[0]}
    header = f"{'service':<8}{'route':<14}{'conc':>6}{'p50 ms':>10}{'p95 ms':>10}{'req/s':>9}"
    print(header + ("  after/before req/s" if len(names) > 1 else ""))
    for key in results[names[-1]]:
        route, level = key.rsplit("_c", 1)
        label = "chat (new q)" if key == "chat_first_time_c1" else route
        for name in names:
            r = results[name][key]
            row = f"{name:<8}{label:<14}{level:>6}{r['p50_ms']:>10.1f}{r['p95_ms']:>10.1f}"
            row += f"{r['rps']:>9.1f}"
            if len(names) > 1 and name == names[-1]:
                row += f"  {r['rps'] / results[names[0]][key]['rps']:.2f}x"
            print(row)
    after = results[names[-1]]
    if "search_c1" in after and "chat_c1" in after:
        ok_search = after["search_c1"]["p95_ms"] <= 50
        ok_chat = after["chat_c1"]["p95_ms"] <= 100
        print(
            f"targets: search p95 <= 50 ms {'met' if ok_search else 'MISSED'}; "
            f"chat p95 <= 100 ms {'met' if ok_chat else 'MISSED'}"
        )
    return results


if __name__ == "__main__":
    main()
