"""The conversation log in SQLite (``<KB_DATA_DIR>/conversations.sqlite3``, beside the
feedback database).

Connections are short-lived for readers and the owner's actions; the log writer keeps its
own (``LogWriter``). WAL lets the dashboard read while the writer writes. Every function
here may raise ``sqlite3.Error`` (locked, read-only, full, corrupt): callers decide whether
that loses a log row (the writer) or answers 503 (the admin routes).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from kbcore.private import private_file
from service.analytics.migrations import migrate

FILE_NAME = "conversations.sqlite3"
NEEDS_REVIEW = "(grounded = 0 OR rating = 'down')"
WAL_RETRY_S = 0.01  # between tries to switch a new database to WAL


@dataclass(frozen=True)
class TurnRow:
    """One question and what the knowledge base answered, as logged."""

    id: str
    at: str
    day: str
    conversation_id: str
    channel: str
    question: str
    query: str
    follow_up: bool
    answer: str
    grounded: bool
    reason: str | None
    reason_detail: str | None
    citations: str  # JSON list
    suggestions: str  # JSON list
    top_score: float | None
    floor: float | None
    latency_ms: float
    index_version: str
    answerer: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class RatingRow:
    """A visitor's thumbs up or down on a logged turn (joined by its message id)."""

    message_id: str
    rating: str
    comment: str | None
    at: str


_TURN_COLUMNS = ", ".join(f.name for f in fields(TurnRow))
_TURN_INSERT = (
    f"INSERT OR IGNORE INTO turns ({_TURN_COLUMNS}) "
    f"VALUES ({', '.join('?' for _ in fields(TurnRow))})"
)
REVIEW_COLUMNS = (
    "id, at, conversation_id, channel, question, query, follow_up, answer, grounded, reason, "
    "reason_detail, citations, suggestions, rating, comment, reviewed_at, promoted_at"
)


def open_connection(path: Path, timeout: float) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), schema up to date."""
    private_file(path)
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        _use_wal(connection, timeout)
        connection.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints
        migrate(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def _use_wal(connection: sqlite3.Connection, timeout: float) -> None:
    """Switch a database to WAL (it stays so). The switch needs the database to itself and
    SQLite does not wait for that, so when several connections open a new database at
    once, try again until ``timeout``."""
    deadline = time.monotonic() + timeout
    while connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            connection.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(WAL_RETRY_S)


def write_batch(connection: sqlite3.Connection, items: Sequence[TurnRow | RatingRow]) -> None:
    """Insert turns and apply ratings, in order, in one transaction."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        for item in items:
            if isinstance(item, TurnRow):
                connection.execute(_TURN_INSERT, astuple(item))
            else:
                connection.execute(
                    "UPDATE turns SET rating = ?, comment = ?, rated_at = ? WHERE id = ?",
                    (item.rating, item.comment, item.at, item.message_id),
                )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _delete_turns(connection: sqlite3.Connection, where: str, params: tuple[object, ...]) -> int:
    """Delete the turns ``where`` selects and the embeddings only they used, in one
    transaction; how many turns went."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        cursor = connection.execute(f"DELETE FROM turns WHERE {where}", params)
        connection.execute(
            "DELETE FROM question_vectors WHERE text NOT IN (SELECT query FROM turns)"
        )
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return cursor.rowcount


def prune(connection: sqlite3.Connection, before: dt.datetime) -> int:
    """Delete turns older than ``before`` and the embeddings only they used."""
    return _delete_turns(connection, "at < ?", (_iso(before),))


def cap(connection: sqlite3.Connection, max_rows: int, max_bytes: int) -> int:
    """Delete the oldest turns beyond ``max_rows``, or beyond what fits in ``max_bytes``
    at the database's current bytes per turn (freed pages are reused, so the file stops
    growing near the cap); the embeddings only they used go too. Returns turns deleted."""
    rows = int(connection.execute("SELECT COUNT(*) FROM turns").fetchone()[0])
    pages = int(connection.execute("PRAGMA page_count").fetchone()[0])
    page_size = int(connection.execute("PRAGMA page_size").fetchone()[0])
    size = pages * page_size
    keep = max_rows
    if rows and size > max_bytes:
        keep = min(keep, int(rows * max_bytes * 0.9 / size))
    if rows <= keep:
        return 0
    oldest = "rowid IN (SELECT rowid FROM turns ORDER BY at LIMIT ?)"
    return _delete_turns(connection, oldest, (rows - keep,))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


class ConversationStore:
    """Reads of the log (analytics, review queue) and the owner's review actions."""

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout
        self._lock = threading.Lock()

    def exists(self) -> bool:
        return self.path.is_file()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        connection = open_connection(self.path, self.timeout)
        try:
            yield connection
        finally:
            connection.close()

    def window(self, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
        """Every turn asked in ``[since, until)``, oldest first (what analytics read)."""
        if not self.exists():
            return []
        with self.connect() as connection:
            connection.row_factory = sqlite3.Row
            rows = connection.execute(
                "SELECT id, at, day, channel, question, query, follow_up, grounded, reason, "
                "citations, rating FROM turns WHERE at >= ? AND at < ? ORDER BY at",
                (_iso(since), _iso(until)),
            ).fetchall()
        return [dict(row) for row in rows]

    def review(self, status: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Refused and thumbs-down turns, newest first: ``open`` (not reviewed yet),
        ``reviewed`` or ``all``; and how many there are."""
        if not self.exists():
            return [], 0
        where = NEEDS_REVIEW
        if status == "open":
            where += " AND reviewed_at IS NULL"
        elif status == "reviewed":
            where += " AND reviewed_at IS NOT NULL"
        with self.connect() as connection:
            connection.row_factory = sqlite3.Row
            total = int(
                connection.execute(f"SELECT COUNT(*) FROM turns WHERE {where}").fetchone()[0]
            )
            rows = connection.execute(
                f"SELECT {REVIEW_COLUMNS} FROM turns WHERE {where} "
                "ORDER BY at DESC, rowid DESC LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        return [dict(row) for row in rows], total

    def get(self, turn_id: str) -> dict[str, Any] | None:
        """One turn that needs review (refused or thumbs down), or None."""
        if not self.exists():
            return None
        with self.connect() as connection:
            connection.row_factory = sqlite3.Row
            row = connection.execute(
                f"SELECT {REVIEW_COLUMNS} FROM turns WHERE id = ? AND {NEEDS_REVIEW}",
                (turn_id,),
            ).fetchone()
        return dict(row) if row is not None else None

    def mark(self, turn_id: str, *, promoted: bool, now: dt.datetime | None = None) -> bool:
        """Mark a turn reviewed (and promoted); False when there is no such turn."""
        at = _iso(now or dt.datetime.now(dt.UTC))
        with self._lock, self.connect() as connection:
            cursor = connection.execute(
                "UPDATE turns SET reviewed_at = COALESCE(reviewed_at, ?), "
                "promoted_at = CASE WHEN ? THEN COALESCE(promoted_at, ?) ELSE promoted_at END "
                f"WHERE id = ? AND {NEEDS_REVIEW}",
                (at, promoted, at, turn_id),
            )
            return cursor.rowcount > 0

    def vectors(self, texts: Sequence[str], model: str) -> dict[str, np.ndarray]:
        """Cached embeddings of ``texts`` by ``model`` (missing ones are left out)."""
        found: dict[str, np.ndarray] = {}
        if not texts or not self.exists():
            return found
        with self.connect() as connection:
            for start in range(0, len(texts), 500):
                chunk = list(texts[start : start + 500])
                marks = ", ".join("?" for _ in chunk)
                for text, blob in connection.execute(
                    "SELECT text, vector FROM question_vectors "
                    f"WHERE model = ? AND text IN ({marks})",
                    (model, *chunk),
                ):
                    found[text] = np.frombuffer(blob, dtype=np.float32)
        return found

    def save_vectors(self, vectors: dict[str, np.ndarray], model: str) -> None:
        """Remember embeddings of logged questions."""
        if not vectors:
            return
        with self.connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(
                    "INSERT OR REPLACE INTO question_vectors (text, model, vector) "
                    "VALUES (?, ?, ?)",
                    [
                        (text, model, np.asarray(v, dtype=np.float32).tobytes())
                        for text, v in vectors.items()
                    ],
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise


def loads(text: str | None) -> list[dict[str, Any]]:
    """A JSON list column."""
    value = json.loads(text or "[]")
    return value if isinstance(value, list) else []
