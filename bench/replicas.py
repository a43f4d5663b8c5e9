"""Two `kb serve` replicas behind a round-robin balancer on one real PostgreSQL server
(fsync on), each with its own embedded index of content/: what one replica alone and two
behind the balancer answer, and what a kill -9 of one under load costs.

Prints, as JSON:
- chat p50/p95 and requests/s at concurrency 8, one replica alone (direct) and two through
  the balancer (each measured ``--repeat`` times, interleaved; medians);
- questions sent through the balancer and the questions each replica's analytics count;
- the feedback round trip: a thumbs-down sent to one replica, seconds until the other's
  review queue lists it;
- kill -9 of one replica under load from 8 clients: requests answered and failed, the
  answered turns missing from the log (must be 0), and the seconds during which requests
  failed.

    python bench/replicas.py [--requests 200] [--repeat 3] [--out FILE]
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
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.load import latencies, summary  # noqa: E402
from tests.postgres_server import start_postgres  # noqa: E402
from tests.replicas import AUTH, ReplicaSet, replica_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def questions() -> list[str]:
    lines = (ROOT / "eval" / "golden.jsonl").read_text().splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def measure(base: str, asked: list[str], total: int, offset: int) -> dict[str, float]:
    found, elapsed = latencies(base, "chat", asked, 8, total, offset)
    return summary(found, elapsed)


def kill_under_load(replicas: ReplicaSet, asked: list[str], database_url: str) -> dict[str, Any]:
    answered: list[str] = []
    failures: list[float] = []
    stop = threading.Event()
    lock = threading.Lock()
    began = time.monotonic()

    def load(worker: int) -> None:
        n = 0
        while not stop.is_set():
            question = f"{asked[(worker * 7 + n) % len(asked)]} ({worker}-{n})"
            n += 1
            try:
                with httpx.Client(base_url=replicas.balancer.url, timeout=60) as client:
                    response = client.post("/v1/chat", json={"message": question})
                ok = response.status_code == 200
                message_id = response.json().get("message_id") if ok else None
            except (httpx.HTTPError, ValueError):
                ok, message_id = False, None
            with lock:
                if ok and message_id:
                    answered.append(str(message_id))
                else:
                    failures.append(time.monotonic() - began)

    clients = [threading.Thread(target=load, args=(w,)) for w in range(8)]
    for client in clients:
        client.start()
    time.sleep(10)
    killed_at = time.monotonic() - began
    replicas[0].kill()
    time.sleep(10)
    stop.set()
    for client in clients:
        client.join(120)
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        logged = {row[0] for row in connection.exec_driver_sql("SELECT id FROM turns")}
    engine.dispose()
    return {
        "clients": 8,
        "answered": len(answered),
        "failed": len(failures),
        "failed_seconds_after_kill": [round(t - killed_at, 3) for t in failures],
        "answered_turns_missing_from_log": len(set(answered) - logged),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    asked = questions()
    with tempfile.TemporaryDirectory(prefix="kb-replicas-") as folder:
        base = Path(folder)
        server = start_postgres(base / "pg")  # fsync on: what a real deployment pays
        try:
            env = replica_env(ROOT / "content", server.url())
            with ReplicaSet(env, base) as replicas:
                alone: list[dict[str, float]] = []
                balanced: list[dict[str, float]] = []
                for round_ in range(args.repeat):
                    offset = round_ * args.requests
                    alone.append(measure(replicas[0].url, asked, args.requests, offset))
                    balanced.append(measure(replicas.balancer.url, asked, args.requests, offset))
                sent = 2 * args.requests * args.repeat
                counted = {
                    r.name: r.get("/v1/admin/analytics", since="1d")["totals"]["questions"]
                    for r in replicas.replicas
                }
                reply = httpx.post(f"{replicas[1].url}/v1/chat", json={"message": asked[0]})
                body = reply.json()
                rated = time.monotonic()
                httpx.post(
                    f"{replicas[0].url}/v1/feedback",
                    json={
                        "conversation_id": body["conversation_id"],
                        "message_id": body["message_id"],
                        "rating": "down",
                    },
                ).raise_for_status()
                while True:
                    queue = httpx.get(
                        f"{replicas[1].url}/v1/admin/review", headers=AUTH, timeout=30
                    ).json()
                    if any(item["id"] == body["message_id"] for item in queue["items"]):
                        break
                    time.sleep(0.01)
                round_trip = time.monotonic() - rated
                killed = kill_under_load(replicas, asked, server.url())
        finally:
            server.destroy()

    def median(rows: list[dict[str, float]], key: str) -> float:
        return round(statistics.median(row[key] for row in rows), 1)

    result = {
        "concurrency": 8,
        "requests_per_measure": args.requests,
        "repeat": args.repeat,
        "one_replica": {k: median(alone, k) for k in ("p50_ms", "p95_ms", "rps")},
        "two_replicas_balanced": {k: median(balanced, k) for k in ("p50_ms", "p95_ms", "rps")},
        "questions_sent": sent,
        "questions_in_each_replicas_analytics": counted,
        "feedback_round_trip_s": round(round_trip, 3),
        "kill_9_under_load": killed,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
