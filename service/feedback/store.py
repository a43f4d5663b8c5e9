"""Durable feedback records: in SQLite by default (``<KB_DATA_DIR>/feedback.sqlite3``),
in PostgreSQL with ``KB_DATABASE_URL`` (shared by every replica).

One short transaction per call (SQLite serialises writers itself; WAL lets readers run
beside a writer), so the store is safe to share between threads.

The store heals what it can without a restart: a database file that was deleted is
created again, one that is not a database any more is moved aside
(``feedback.sqlite3.corrupt-<time>``) and started afresh. What it cannot heal (a full
disk, a folder it cannot write) raises ``FeedbackUnavailableError`` (503), and
``health()`` reports it for ``/readyz`` (which stays ready: answers do not need it).
Records are capped (``max_rows`` and ``max_bytes``, oldest deleted first) and expire after
``retention_days``; ``stats`` counts what was written, refused, expired and capped, for
``/metrics``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from kbcore.errors import KBError
from service.database.engine import Database, is_corrupt, is_missing_table
from service.database.tables import feedback

FILE_NAME = "feedback.sqlite3"
_SURROGATE = re.compile("[\ud800-\udfff]")
PRUNE_EVERY = 100  # inserts between two retention passes
log = logging.getLogger(__name__)
T = TypeVar("T")

_NAMES = [column.name for column in feedback.columns]


class FeedbackUnavailableError(KBError):
    """The feedback database cannot be written or read (disk full, folder not writable,
    server down)."""


@dataclass(frozen=True)
class NewFeedback:
    """What a visitor sends about one answer."""

    conversation_id: str
    rating: str
    message_id: str | None = None
    comment: str | None = None
    question: str | None = None
    answer: str | None = None
    citations: tuple[str, ...] = ()
    origin: str | None = None


@dataclass
class FeedbackStats:
    """What happened to the records sent to the store."""

    written: int = 0
    dropped: int = 0  # refused by the database (full, read-only, down): the visitor got a 503
    pruned: int = 0  # older than the retention period
    capped: int = 0  # over the row or size cap
    recreated: int = 0  # times the file (or its table) was gone or corrupt and started afresh


class FeedbackStore:
    """Append and list feedback; creates the database (and its folder) when missing."""

    def __init__(
        self,
        database: Database,
        *,
        max_rows: int = 100_000,
        max_bytes: int = 100 * 2**20,
        retention_days: int = 365,
    ) -> None:
        self.database = database
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.retention_days = retention_days
        self.last_error: str | None = None
        self.stats = FeedbackStats()
        self._lock = threading.Lock()
        self._inserts = 0
        self._created = False  # the file existed or was made once: a later absence is a loss

    @property
    def path(self) -> Path | None:
        """The SQLite file (None for a database server)."""
        return self.database.path

    def counts(self) -> dict[str, int]:
        """The stats as a mapping (what ``/metrics`` reads)."""
        with self._lock:
            return asdict(self.stats)

    def _run(self, operation: str, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction, healing a missing or damaged database once."""
        with self._lock:
            for attempt in (1, 2):
                path = self.path
                try:
                    if path is not None and not path.is_file():
                        if attempt == 1 and self._created:
                            self.stats.recreated += 1
                        self.database.forget_schema()
                    transaction = (
                        self.database.write if operation == "write" else self.database.read
                    )
                    with transaction() as connection:
                        result = work(connection)
                    self._created = True
                    self.last_error = None
                    return result
                except SQLAlchemyError as exc:
                    if attempt == 1 and is_missing_table(exc):
                        self.database.forget_schema()
                        continue
                    if attempt == 1 and path is not None and is_corrupt(exc) and path.is_file():
                        aside = self.database.set_aside()
                        log.error("%s is not a readable database; kept as %s", path, aside.name)
                        self.stats.recreated += 1
                        continue
                    self._fail(operation, exc)
                except OSError as exc:
                    self._fail(operation, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fail(self, operation: str, exc: Exception) -> None:
        if operation == "write":
            self.stats.dropped += 1
        self.last_error = f"cannot {operation} {self.database.name}: {self.database.explain(exc)}"
        log.error("feedback store: %s", self.last_error)
        raise FeedbackUnavailableError(self.last_error) from exc

    def health(self) -> str | None:
        """None when the store can be used, else why not (checked, and healed, now)."""
        try:
            self._run("read", lambda c: c.execute(sa.select(feedback.c.id).limit(1)).all())
        except FeedbackUnavailableError as exc:
            return str(exc)
        return None

    def add(self, item: NewFeedback, now: dt.datetime | None = None) -> dict[str, Any]:
        """Store one record; returns it as listed."""
        moment = now or dt.datetime.now(dt.UTC)
        row = {
            "id": _new_id(),
            "created_at": moment.isoformat(timespec="microseconds"),
            "conversation_id": item.conversation_id,
            "message_id": item.message_id,
            "rating": item.rating,
            "comment": item.comment,
            "question": item.question,
            "answer": item.answer,
            "citations": json.dumps(list(item.citations)),
            "origin": item.origin,
        }
        self._run("write", lambda c: c.execute(feedback.insert().values(**row)))
        with self._lock:
            self.stats.written += 1
            self._inserts += 1
            due = self._inserts % PRUNE_EVERY == 1
        if due:
            self.prune(moment)
        return _record(row)

    def prune(self, now: dt.datetime | None = None) -> None:
        """Delete records past the retention period, then the oldest beyond the row cap
        or beyond what fits in ``max_bytes`` at the current bytes per record (freed space
        is reused, so the database stops growing near the cap)."""
        now = now or dt.datetime.now(dt.UTC)
        cutoff = (now - dt.timedelta(days=self.retention_days)).isoformat()

        def work(connection: Connection) -> tuple[int, int]:
            pruned = 0
            if self.retention_days > 0:
                pruned = connection.execute(
                    feedback.delete().where(feedback.c.created_at < cutoff)
                ).rowcount
            rows = int(
                connection.execute(sa.select(sa.func.count()).select_from(feedback)).scalar_one()
            )
            size = self.database.size_bytes(connection, "feedback")
            keep = self.max_rows
            if rows and size > self.max_bytes:
                keep = min(keep, int(rows * self.max_bytes * 0.9 / size))
            capped = 0
            if rows > keep:
                oldest = (
                    sa.select(feedback.c.id)
                    .order_by(feedback.c.created_at, feedback.c.id)
                    .limit(rows - keep)
                )
                capped = connection.execute(
                    feedback.delete().where(feedback.c.id.in_(oldest.scalar_subquery()))
                ).rowcount
            return int(pruned), int(capped)

        pruned, capped = self._run("write", work)
        with self._lock:
            self.stats.pruned += pruned
            self.stats.capped += capped

    def list(self, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """A page of records, newest first, and the total count."""

        def work(connection: Connection) -> tuple[list[dict[str, Any]], int]:
            total = connection.execute(sa.select(sa.func.count()).select_from(feedback))
            count = int(total.scalar_one())
            rows = connection.execute(
                sa.select(feedback)
                .order_by(feedback.c.created_at.desc(), feedback.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).mappings()
            return [_record(dict(row)) for row in rows], count

        return self._run("read", work)


def _new_id() -> str:
    """32 hex digits that sort in the order records were made (nanoseconds, then random),
    so records made in the same microsecond still list newest first on every backend."""
    return f"{time.time_ns():016x}{secrets.token_hex(8)}"


def _valid_text(value: Any) -> Any:
    """Text that encodes as UTF-8 (a lone surrogate stored by an earlier release becomes
    U+FFFD instead of breaking every page that lists it)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_valid_text(v) for v in value]
    return value


def _record(row: dict[str, Any]) -> dict[str, Any]:
    record = {name: row.get(name) for name in _NAMES}
    try:
        citations = json.loads(record["citations"] or "[]")
    except ValueError:
        citations = []
    record["citations"] = citations if isinstance(citations, list) else []
    return {name: _valid_text(value) for name, value in record.items()}
