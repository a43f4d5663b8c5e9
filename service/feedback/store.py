"""Durable feedback records in SQLite (``<KB_DATA_DIR>/feedback.sqlite3``).

One short-lived connection per call (SQLite serialises writers itself; WAL lets readers
run beside a writer), so the store is safe to share between threads.

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
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kbcore.diskspace import explain
from kbcore.errors import KBError
from kbcore.private import private_file

FILE_NAME = "feedback.sqlite3"
_SURROGATE = re.compile("[\ud800-\udfff]")
PRUNE_EVERY = 100  # inserts between two retention passes
log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    message_id TEXT,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT,
    question TEXT,
    answer TEXT,
    citations TEXT NOT NULL DEFAULT '[]',
    origin TEXT
);
CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created_at DESC);
"""

_COLUMNS = (
    "id, created_at, conversation_id, message_id, rating, comment, question, answer, "
    "citations, origin"
)
_NAMES = [name.strip() for name in _COLUMNS.split(",")]


class FeedbackUnavailableError(KBError):
    """The feedback database cannot be written or read (disk full, folder not writable)."""


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
    dropped: int = 0  # refused by the disk (full, read-only): the visitor got a 503
    pruned: int = 0  # older than the retention period
    capped: int = 0  # over the row or size cap
    recreated: int = 0  # times the file was gone or corrupt and started afresh


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


class FeedbackStore:
    """Append and list feedback; creates the database (and its folder) when missing."""

    def __init__(
        self,
        path: Path,
        *,
        max_rows: int = 100_000,
        max_bytes: int = 100 * 2**20,
        retention_days: int = 365,
    ) -> None:
        self.path = path
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.retention_days = retention_days
        self.last_error: str | None = None
        self.stats = FeedbackStats()
        self._lock = threading.Lock()
        self._inserts = 0
        self._created = False  # the file existed or was made once: a later absence is a loss

    def counts(self) -> dict[str, int]:
        """The stats as a mapping (what ``/metrics`` reads)."""
        with self._lock:
            return asdict(self.stats)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=10)
        try:
            connection.execute("PRAGMA busy_timeout = 10000")
            with connection:  # commits, or rolls back on error
                yield connection
        finally:
            connection.close()

    def _create(self) -> None:
        private_file(self.path)
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript(_SCHEMA)

    def _set_aside(self) -> None:
        """Move a damaged database (and its WAL files) out of the way, keeping it."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        log.error("%s is not a readable database; moved to %s and started afresh", self.path, aside)
        self.path.replace(aside)
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def _run(self, operation: str, sql: list[tuple[str, tuple[Any, ...]]]) -> list[list[Any]]:
        """Run statements in one transaction, healing a missing or damaged database once."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    if not self.path.is_file():
                        if attempt == 1 and self._created:
                            self.stats.recreated += 1
                        self._create()
                    self._created = True
                    with self._connect() as connection:
                        results = [_result(connection.execute(q, args)) for q, args in sql]
                    self.last_error = None
                    return results
                except sqlite3.DatabaseError as exc:
                    text = str(exc).lower()
                    if attempt == 1 and "no such table" in text:
                        self._create()
                        continue
                    if attempt == 1 and _is_corrupt(exc) and self.path.is_file():
                        self._set_aside()
                        self.stats.recreated += 1
                        continue
                    self._fail(operation, exc)
                except OSError as exc:
                    self._fail(operation, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fail(self, operation: str, exc: Exception) -> None:
        if operation == "write":
            self.stats.dropped += 1
        self.last_error = f"cannot {operation} {self.path.name}: {explain(exc, self.path)}"
        log.error("feedback store: %s", self.last_error)
        raise FeedbackUnavailableError(self.last_error) from exc

    def health(self) -> str | None:
        """None when the store can be used, else why not (checked, and healed, now)."""
        try:
            self._run("read", [("SELECT 1 FROM feedback LIMIT 1", ())])
        except FeedbackUnavailableError as exc:
            return str(exc)
        return None

    def add(self, item: NewFeedback, now: dt.datetime | None = None) -> dict[str, Any]:
        """Store one record; returns it as listed."""
        record_id = uuid.uuid4().hex
        moment = now or dt.datetime.now(dt.UTC)
        created = moment.isoformat(timespec="microseconds")
        row = (
            record_id,
            created,
            item.conversation_id,
            item.message_id,
            item.rating,
            item.comment,
            item.question,
            item.answer,
            json.dumps(list(item.citations)),
            item.origin,
        )
        self._run(
            "write", [(f"INSERT INTO feedback ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", row)]
        )
        with self._lock:
            self.stats.written += 1
            self._inserts += 1
            due = self._inserts % PRUNE_EVERY == 1
        if due:
            self.prune(moment)
        return _record(row)

    def prune(self, now: dt.datetime | None = None) -> None:
        """Delete records past the retention period, then the oldest beyond the row cap
        or beyond what fits in ``max_bytes`` at the current bytes per record (freed pages
        are reused, so the file stops growing near the cap)."""
        now = now or dt.datetime.now(dt.UTC)
        pruned = 0
        if self.retention_days > 0:
            cutoff = (now - dt.timedelta(days=self.retention_days)).isoformat()
            pruned = self._run("write", [("DELETE FROM feedback WHERE created_at < ?", (cutoff,))])[
                0
            ][0][0]
        (rows,), (pages,), (page_size,) = (
            r[0]
            for r in self._run(
                "read",
                [
                    ("SELECT COUNT(*) FROM feedback", ()),
                    ("PRAGMA page_count", ()),
                    ("PRAGMA page_size", ()),
                ],
            )
        )
        keep, size = self.max_rows, int(pages) * int(page_size)
        if rows and size > self.max_bytes:
            keep = min(keep, int(rows * self.max_bytes * 0.9 / size))
        capped = 0
        if rows > keep:
            capped = self._run(
                "write",
                [
                    (
                        "DELETE FROM feedback WHERE rowid IN (SELECT rowid FROM feedback "
                        "ORDER BY created_at, rowid LIMIT ?)",
                        (int(rows) - keep,),
                    )
                ],
            )[0][0][0]
        with self._lock:
            self.stats.pruned += int(pruned)
            self.stats.capped += int(capped)

    def list(self, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """A page of records, newest first, and the total count."""
        count, rows = self._run(
            "read",
            [
                ("SELECT COUNT(*) FROM feedback", ()),
                (
                    f"SELECT {_COLUMNS} FROM feedback ORDER BY created_at DESC, rowid DESC "
                    "LIMIT ? OFFSET ?",
                    (limit, offset),
                ),
            ],
        )
        return [_record(tuple(row)) for row in rows], int(count[0][0])


def _result(cursor: sqlite3.Cursor) -> list[Any]:
    """A statement's rows, or for a write ``[[rows changed]]``."""
    return cursor.fetchall() if cursor.description is not None else [[cursor.rowcount]]


def _valid_text(value: Any) -> Any:
    """Text that encodes as UTF-8 (a lone surrogate stored by an earlier release becomes
    U+FFFD instead of breaking every page that lists it)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_valid_text(v) for v in value]
    return value


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(_NAMES, row, strict=True))
    try:
        citations = json.loads(record["citations"] or "[]")
    except ValueError:
        citations = []
    record["citations"] = citations if isinstance(citations, list) else []
    return {name: _valid_text(value) for name, value in record.items()}
