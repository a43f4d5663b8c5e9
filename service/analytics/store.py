"""The conversation log: in SQLite by default (``<KB_DATA_DIR>/conversations.sqlite3``,
beside the feedback database), in PostgreSQL with ``KB_DATABASE_URL`` (shared by every
replica).

Readers and the owner's actions use short transactions; the log writer writes in batches
(``LogWriter``). Every function here may raise ``SQLAlchemyError`` (locked, read-only,
full, corrupt, server down): callers decide whether that loses a log row (the writer) or
answers 503 (the admin routes).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.database.engine import Database, dialect_insert
from service.database.tables import golden_promotions, question_vectors, turns

FILE_NAME = "conversations.sqlite3"
NEEDS_REVIEW = "(grounded = 0 OR rating = 'down')"


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

    def values(self) -> dict[str, Any]:
        row = asdict(self)
        row["follow_up"], row["grounded"] = int(self.follow_up), int(self.grounded)
        return row


@dataclass(frozen=True)
class RatingRow:
    """A visitor's thumbs up or down on a logged turn (joined by its message id)."""

    message_id: str
    rating: str
    comment: str | None
    at: str


REVIEW_COLUMNS = (
    "id, at, conversation_id, channel, question, query, follow_up, answer, grounded, reason, "
    "reason_detail, citations, suggestions, rating, comment, reviewed_at, promoted_at"
)


def insert_ignoring_duplicates(connection: Connection, table: sa.Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` in the connection's dialect."""
    return dialect_insert(connection, table).on_conflict_do_nothing()


def write_batch(connection: Connection, items: Sequence[TurnRow | RatingRow]) -> None:
    """Insert turns and apply ratings, in order, on a connection in a transaction."""
    insert = insert_ignoring_duplicates(connection, turns)
    for item in items:
        if isinstance(item, TurnRow):
            connection.execute(insert, item.values())
        else:
            connection.execute(
                turns.update()
                .where(turns.c.id == item.message_id)
                .values(rating=item.rating, comment=item.comment, rated_at=item.at)
            )


def _delete_turns(connection: Connection, where: sa.ColumnElement[bool]) -> int:
    """Delete the turns ``where`` selects and the embeddings only they used; how many
    turns went."""
    deleted = connection.execute(turns.delete().where(where)).rowcount
    connection.execute(
        question_vectors.delete().where(question_vectors.c.text.not_in(sa.select(turns.c.query)))
    )
    return int(deleted)


def prune(database: Database, before: dt.datetime) -> int:
    """Delete turns older than ``before`` and the embeddings only they used."""
    with database.write() as connection:
        return _delete_turns(connection, turns.c.at < _iso(before))


def cap(database: Database, max_rows: int, max_bytes: int) -> int:
    """Delete the oldest turns beyond ``max_rows``, or beyond what fits in ``max_bytes``
    at the database's current bytes per turn (freed space is reused, so it stops growing
    near the cap); the embeddings only they used go too. Returns turns deleted."""
    with database.write() as connection:
        rows = int(connection.execute(sa.select(sa.func.count()).select_from(turns)).scalar_one())
        size = database.size_bytes(connection, "turns", "question_vectors")
        keep = max_rows
        if rows and size > max_bytes:
            keep = min(keep, int(rows * max_bytes * 0.9 / size))
        if rows <= keep:
            return 0
        oldest = sa.select(turns.c.id).order_by(turns.c.at, turns.c.id).limit(rows - keep)
        return _delete_turns(connection, turns.c.id.in_(oldest.scalar_subquery()))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


class DuplicatePromotionError(Exception):
    """The golden set already has a question with this id."""


class ConversationStore:
    """Reads of the log (analytics, review queue) and the owner's review actions."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._lock = threading.Lock()

    def exists(self) -> bool:
        """Whether anything was ever logged here (an embedded log is a file created with
        the first turn; a shared database always exists)."""
        path = self.database.path
        return path is None or path.is_file()

    def _rows(
        self, query: sa.Executable, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        with self.database.connect() as connection:
            return [dict(row) for row in connection.execute(query, params or {}).mappings()]

    def window(self, since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
        """Every turn asked in ``[since, until)``, oldest first (what analytics read)."""
        if not self.exists():
            return []
        c = turns.c
        return self._rows(
            sa.select(
                c.id,
                c.at,
                c.day,
                c.channel,
                c.question,
                c.query,
                c.follow_up,
                c.grounded,
                c.reason,
                c.citations,
                c.rating,
            )
            .where(c.at >= _iso(since), c.at < _iso(until))
            .order_by(c.at, c.id)
        )

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
        with self.database.connect() as connection:
            total = int(
                connection.execute(
                    sa.text(f"SELECT COUNT(*) FROM turns WHERE {where}")
                ).scalar_one()
            )
            rows = connection.execute(
                sa.text(
                    f"SELECT {REVIEW_COLUMNS} FROM turns WHERE {where} "
                    "ORDER BY at DESC, id DESC LIMIT :limit OFFSET :offset"
                ),
                {"limit": limit, "offset": offset},
            ).mappings()
            return [dict(row) for row in rows], total

    def get(self, turn_id: str) -> dict[str, Any] | None:
        """One turn that needs review (refused or thumbs down), or None."""
        if not self.exists():
            return None
        rows = self._rows(
            sa.text(f"SELECT {REVIEW_COLUMNS} FROM turns WHERE id = :id AND {NEEDS_REVIEW}"),
            {"id": turn_id},
        )
        return rows[0] if rows else None

    def mark(self, turn_id: str, *, promoted: bool, now: dt.datetime | None = None) -> bool:
        """Mark a turn reviewed (and promoted); False when there is no such turn."""
        at = _iso(now or dt.datetime.now(dt.UTC))
        with self._lock, self.database.write() as connection:
            result = connection.execute(
                sa.text(
                    "UPDATE turns SET reviewed_at = COALESCE(reviewed_at, :at), "
                    "promoted_at = CASE WHEN :promoted = 1 THEN COALESCE(promoted_at, :at) "
                    f"ELSE promoted_at END WHERE id = :id AND {NEEDS_REVIEW}"
                ),
                {"at": at, "promoted": int(promoted), "id": turn_id},
            )
            return result.rowcount > 0

    def promote(self, turn_id: str, line: dict[str, Any], now: dt.datetime | None = None) -> None:
        """Record a golden question promoted from a turn, and mark the turn reviewed and
        promoted, in one transaction; ``DuplicatePromotionError`` when its id is taken
        (whichever replica took it)."""
        at = _iso(now or dt.datetime.now(dt.UTC))
        with self._lock, self.database.write() as connection:
            inserted = connection.execute(
                insert_ignoring_duplicates(connection, golden_promotions).values(
                    id=str(line["id"]),
                    turn_id=turn_id,
                    promoted_at=at,
                    line=json.dumps(line, ensure_ascii=False),
                )
            ).rowcount
            if not inserted:
                raise DuplicatePromotionError(f"the golden set already has '{line['id']}'")
            connection.execute(
                turns.update()
                .where(turns.c.id == turn_id)
                .values(
                    reviewed_at=sa.func.coalesce(turns.c.reviewed_at, at),
                    promoted_at=sa.func.coalesce(turns.c.promoted_at, at),
                )
            )

    def promoted(self) -> list[dict[str, Any]]:
        """Every promoted golden question, oldest first, as its file line."""
        if not self.exists():
            return []
        rows = self._rows(
            sa.select(golden_promotions.c.line).order_by(
                golden_promotions.c.promoted_at, golden_promotions.c.id
            )
        )
        return [json.loads(row["line"]) for row in rows]

    def vectors(self, texts: Sequence[str], model: str) -> dict[str, np.ndarray]:
        """Cached embeddings of ``texts`` by ``model`` (missing ones are left out)."""
        found: dict[str, np.ndarray] = {}
        if not texts or not self.exists():
            return found
        q = question_vectors.c
        with self.database.connect() as connection:
            for start in range(0, len(texts), 500):
                chunk = list(texts[start : start + 500])
                for text, blob in connection.execute(
                    sa.select(q.text, q.vector).where(q.model == model, q.text.in_(chunk))
                ):
                    found[text] = np.frombuffer(bytes(blob), dtype=np.float32)
        return found

    def save_vectors(self, vectors: dict[str, np.ndarray], model: str) -> None:
        """Remember embeddings of logged questions."""
        if not vectors:
            return
        with self.database.write() as connection:
            connection.execute(
                insert_ignoring_duplicates(connection, question_vectors),
                [
                    {
                        "text": text,
                        "model": model,
                        "vector": np.asarray(v, dtype=np.float32).tobytes(),
                    }
                    for text, v in vectors.items()
                ],
            )


def loads(text: str | None) -> list[dict[str, Any]]:
    """A JSON list column."""
    value = json.loads(text or "[]")
    return value if isinstance(value, list) else []
