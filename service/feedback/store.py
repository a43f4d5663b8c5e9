"""Durable feedback records in SQLite (``<KB_DATA_DIR>/feedback.sqlite3``).

One short-lived connection per call (SQLite serialises writers itself; WAL lets readers
run beside a writer), so the store is safe to share between threads.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "feedback.sqlite3"

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


class FeedbackStore:
    """Append and list feedback; creates the database (and its folder) on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False
        self._lock = threading.Lock()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self._ensure_schema()
        connection = sqlite3.connect(self.path, timeout=10)
        try:
            connection.execute("PRAGMA busy_timeout = 10000")
            with connection:  # commits, or rolls back on error
                yield connection
        finally:
            connection.close()

    def _ensure_schema(self) -> None:
        with self._lock:
            if self._ready:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=10)
            try:
                connection.execute("PRAGMA journal_mode = WAL")
                connection.executescript(_SCHEMA)
                connection.commit()
            finally:
                connection.close()
            self._ready = True

    def add(self, item: NewFeedback, now: dt.datetime | None = None) -> dict[str, Any]:
        """Store one record; returns it as listed."""
        record_id = uuid.uuid4().hex
        created = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="microseconds")
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
        with self._connect() as connection:
            connection.execute(
                f"INSERT INTO feedback ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", row
            )
        return _record(row)

    def list(self, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """A page of records, newest first, and the total count."""
        with self._connect() as connection:
            total = int(connection.execute("SELECT COUNT(*) FROM feedback").fetchone()[0])
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM feedback ORDER BY created_at DESC, rowid DESC "
                "LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        return [_record(tuple(row)) for row in rows], total


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    names = [name.strip() for name in _COLUMNS.split(",")]
    record = dict(zip(names, row, strict=True))
    record["citations"] = json.loads(record["citations"] or "[]")
    return record
