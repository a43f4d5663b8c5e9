"""Durable feedback records in SQLite (``<KB_DATA_DIR>/feedback.sqlite3``).

One short-lived connection per call (SQLite serialises writers itself; WAL lets readers
run beside a writer), so the store is safe to share between threads.

The store heals what it can without a restart: a database file that was deleted is
created again, one that is not a database any more is moved aside
(``feedback.sqlite3.corrupt-<time>``) and started afresh. What it cannot heal (a full
disk, a folder it cannot write) raises ``FeedbackUnavailableError`` (503), and
``health()`` reports it for ``/readyz``. Records are capped (``max_rows``, oldest
deleted first) and expire after ``retention_days``.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


class FeedbackStore:
    """Append and list feedback; creates the database (and its folder) when missing."""

    def __init__(self, path: Path, *, max_rows: int = 100_000, retention_days: int = 365) -> None:
        self.path = path
        self.max_rows = max_rows
        self.retention_days = retention_days
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._inserts = 0

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
                        self._create()
                    with self._connect() as connection:
                        results = [connection.execute(q, args).fetchall() for q, args in sql]
                    self.last_error = None
                    return results
                except sqlite3.DatabaseError as exc:
                    text = str(exc).lower()
                    if attempt == 1 and "no such table" in text:
                        self._create()
                        continue
                    if attempt == 1 and _is_corrupt(exc) and self.path.is_file():
                        self._set_aside()
                        continue
                    self._fail(operation, exc)
                except OSError as exc:
                    self._fail(operation, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fail(self, operation: str, exc: Exception) -> None:
        self.last_error = f"cannot {operation} {self.path.name}: {exc}"
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
        statements: list[tuple[str, tuple[Any, ...]]] = [
            (f"INSERT INTO feedback ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", row)
        ]
        self._inserts += 1
        if self._inserts % PRUNE_EVERY == 1:
            statements += self._retention(moment)
        self._run("write", statements)
        return _record(row)

    def _retention(self, now: dt.datetime) -> list[tuple[str, tuple[Any, ...]]]:
        """Delete records past the retention period and beyond the row cap."""
        statements: list[tuple[str, tuple[Any, ...]]] = [
            (
                "DELETE FROM feedback WHERE rowid IN (SELECT rowid FROM feedback "
                "ORDER BY created_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                (self.max_rows,),
            )
        ]
        if self.retention_days > 0:
            cutoff = (now - dt.timedelta(days=self.retention_days)).isoformat()
            statements.append(("DELETE FROM feedback WHERE created_at < ?", (cutoff,)))
        return statements

    def prune(self, now: dt.datetime | None = None) -> None:
        """Apply the cap and the retention period now."""
        self._run("write", self._retention(now or dt.datetime.now(dt.UTC)))

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
