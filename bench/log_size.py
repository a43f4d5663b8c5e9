"""Size of the conversation log after many turns, against its caps.

Writes N realistic turns (a 40-120 character question, a ~600 character answer with
three citations, a rating on one turn in ten) through the service's own log writer
(``service/analytics/writer.py``: its queue, batches and cap checks), once per cap
setting, and prints rows kept, file size (database + WAL), rows capped and dropped, and
the write rate. With the default caps (200,000 turns, 500 MB) 100,000 turns stay under
both; with small caps the log stops growing at them, oldest turns first.

    python bench/log_size.py [--turns 100000] [--caps 200000:500,20000:500,200000:20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from kbcore.answering.models import Answer, Citation  # noqa: E402
from service.analytics.log import Channel, turn_row  # noqa: E402
from service.analytics.store import FILE_NAME, RatingRow  # noqa: E402
from service.analytics.writer import LogWriter  # noqa: E402
from service.database.engine import Database  # noqa: E402

PHRASE = (
    "how much does fine tuning cost for a small model with lora adapters and what batch "
    "size learning rate epochs should I use when my dataset has only a few hundred rows"
)
WORDS = PHRASE.split()


def _answer(rng: random.Random, question: str) -> Answer:
    citations = [
        Citation(
            i,
            f"article-{rng.randrange(60)}",
            "Fine-Tuning Cost",
            "How much does a run cost?",
            f"heading-{rng.randrange(400)}",
            f"/learn/article-{i}#heading",
            f"article-{i}.md",
            " ".join(rng.choices(WORDS, k=25)),
            rng.random(),
        )
        for i in (1, 2, 3)
    ]
    text = " ".join(rng.choices(WORDS, k=100)) + " [1]"
    return Answer(text, citations, True, [], "20261205t000000-abcd", question)


def fill(path: Path, turns: int, max_rows: int, max_mb: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    start = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    database = Database(f"sqlite+pysqlite:///{path}", "log")
    writer = LogWriter(database, retention_days=3650, max_rows=max_rows, max_bytes=max_mb * 2**20)
    began = time.perf_counter()
    for i in range(turns):
        question = " ".join(rng.choices(WORDS, k=rng.randint(8, 20)))[:120] + "?"
        message_id = f"m-{i:08d}"
        writer.submit(
            turn_row(
                message_id=message_id,
                channel=Channel.WIDGET,
                conversation_id=f"c-{i // 3}",
                question=question,
                history=(),
                answer=_answer(rng, question),
                latency_ms=rng.uniform(20, 400),
                at=start + dt.timedelta(seconds=30 * i),
            )
        )
        if i % 10 == 0:
            writer.submit(RatingRow(message_id, "down", "not what I asked", ""))
        if i % 1000 == 999:
            writer.flush(60)  # the bench writes faster than visitors: let the queue drain
    writer.flush(120)
    writer.close()
    seconds = time.perf_counter() - began
    size = sum(p.stat().st_size for p in path.parent.glob(FILE_NAME + "*"))
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT COUNT(*) FROM turns").fetchone()[0]
    stats = writer.stats
    return {
        "rows": rows,
        "mb": size / 2**20,
        "capped": stats.capped,
        "dropped": stats.dropped,
        "turns_per_s": turns / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--caps", default="200000:500,20000:500,200000:20")
    args = parser.parse_args()
    print(f"{args.turns:,} turns per run")
    print("max rows | max MB | rows kept | size MB | capped | dropped | turns/s")
    for spec in args.caps.split(","):
        max_rows, max_mb = (int(x) for x in spec.split(":"))
        with tempfile.TemporaryDirectory() as work:
            r = fill(Path(work) / FILE_NAME, args.turns, max_rows, max_mb, seed=7)
        print(
            f"{max_rows:>8,} | {max_mb:>6} | {r['rows']:>9,} | {r['mb']:>7.1f} | "
            f"{r['capped']:>6,} | {r['dropped']:>7,} | {r['turns_per_s']:>7,.0f}"
        )


if __name__ == "__main__":
    main()
