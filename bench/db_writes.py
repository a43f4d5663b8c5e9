"""What logging a turn costs on each backend: SQLite (the embedded default, WAL,
synchronous=NORMAL) against a real PostgreSQL server on this machine (fsync on).

Two figures per backend:
- **batched**: 20,000 turns handed to the log writer as fast as it takes them (a busy
  site), turns written per second and microseconds per turn;
- **one at a time**: 500 turns each waited for until committed (what an answer on a shared
  database waits for), p50/p95 milliseconds.

    python bench/db_writes.py [--turns 20000] [--single 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.load import percentile  # noqa: E402
from kbcore.answering.models import Answer, Citation  # noqa: E402
from service.analytics.log import Channel, turn_row  # noqa: E402
from service.analytics.store import TurnRow  # noqa: E402
from service.analytics.writer import LogWriter  # noqa: E402
from service.database.engine import Database  # noqa: E402
from tests.postgres_server import start_postgres  # noqa: E402


def turn(n: int) -> TurnRow:
    citation = Citation(
        1,
        "fine-tuning-cost",
        "Fine-tuning cost",
        "How much does a run cost?",
        "how-much-does-a-run-cost",
        "/learn/fine-tuning-cost#how-much-does-a-run-cost",
        "fine-tuning-cost.md",
        "A single run on a small model costs between 50 and 500 dollars of compute.",
        0.71,
    )
    answer = Answer(
        "A single run on a small model costs between 50 and 500 dollars of compute. [1]",
        [citation],
        True,
        [],
        "20261205t000000-abcd",
        "how much does one fine-tuning run cost me?",
    )
    return turn_row(
        message_id=f"m-{n:012d}",
        channel=Channel.WIDGET,
        conversation_id=f"c-{n // 3}",
        question=f"how much does one fine-tuning run cost me? ({n})",
        history=(),
        answer=answer,
        latency_ms=42.0,
        at=dt.datetime.now(dt.UTC),
    )


def batched(database: Database, turns: int, first: int) -> float:
    """Turns written per second."""
    writer = LogWriter(database, retention_days=3650, capacity=turns + 10)
    writer.start()
    started = time.perf_counter()
    for n in range(first, first + turns):
        writer.submit(turn(n))
    assert writer.flush(600)
    elapsed = time.perf_counter() - started
    writer.close()
    assert writer.stats.written == turns, writer.stats
    return turns / elapsed


def one_at_a_time(database: Database, count: int, first: int) -> list[float]:
    """Milliseconds from handing a turn over to its commit."""
    writer = LogWriter(database, retention_days=3650)
    writer.start()
    found = []
    for n in range(first, first + count):
        started = time.perf_counter()
        assert writer.submit(turn(n)).result(30)
        found.append((time.perf_counter() - started) * 1000)
    writer.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=20_000)
    parser.add_argument("--single", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kb-db-writes-") as folder:
        base = Path(folder)
        server = start_postgres(base / "pg")  # fsync on
        try:
            backends = {
                "sqlite": Database(f"sqlite+pysqlite:///{base / 'log.sqlite3'}", "log"),
                "postgresql": Database(server.url(), "heads"),
            }
            for database in backends.values():
                database.ensure_schema()
            rates: dict[str, list[float]] = {name: [] for name in backends}
            singles: dict[str, list[float]] = {name: [] for name in backends}
            first = 0
            for _ in range(args.repeat):  # interleaved: the machine is shared and noisy
                for name, database in backends.items():
                    rates[name].append(batched(database, args.turns, first))
                    first += args.turns
                    singles[name].extend(one_at_a_time(database, args.single, first))
                    first += args.single
            for database in backends.values():
                database.dispose()
        finally:
            server.destroy()
    result: dict[str, Any] = {
        name: {
            "batched_turns_per_s": round(statistics.median(rates[name])),
            "batched_us_per_turn": round(1e6 / statistics.median(rates[name]), 1),
            "one_at_a_time_p50_ms": round(statistics.median(singles[name]), 2),
            "one_at_a_time_p95_ms": round(percentile(singles[name], 0.95), 2),
        }
        for name in rates
    }
    result["ratio_postgresql_to_sqlite_per_turn"] = round(
        result["sqlite"]["batched_turns_per_s"] / result["postgresql"]["batched_turns_per_s"], 2
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
