"""Schema of the conversation log, as numbered migrations.

The database records how far it has come in ``PRAGMA user_version``; opening it applies
the migrations after that, each in its own transaction. Never edit a migration that has
shipped: append a new one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[str, ...] = (
    # 1: one row per answered or refused question. No IP address, no user agent.
    """
    CREATE TABLE turns (
        id TEXT PRIMARY KEY,               -- the message_id the chat response carried
        at TEXT NOT NULL,                  -- ISO 8601, UTC, microseconds
        day TEXT NOT NULL,                 -- YYYY-MM-DD (UTC), for daily figures
        conversation_id TEXT NOT NULL,
        channel TEXT NOT NULL,             -- widget, rest, openai, mcp, cli
        question TEXT NOT NULL,            -- as asked, capped
        query TEXT NOT NULL,               -- the standalone query retrieval used, capped
        follow_up INTEGER NOT NULL,
        answer TEXT NOT NULL,
        grounded INTEGER NOT NULL,
        reason TEXT,                       -- the refusal code
        reason_detail TEXT,
        citations TEXT NOT NULL DEFAULT '[]',
        suggestions TEXT NOT NULL DEFAULT '[]',
        top_score REAL,
        floor REAL,
        latency_ms REAL NOT NULL,
        index_version TEXT NOT NULL,
        answerer TEXT NOT NULL,
        rating TEXT CHECK (rating IN ('up', 'down')),
        comment TEXT,
        rated_at TEXT,
        reviewed_at TEXT,
        promoted_at TEXT
    );
    CREATE INDEX turns_at ON turns (at);
    CREATE INDEX turns_needing_review ON turns (at) WHERE grounded = 0 OR rating = 'down';
    """,
    # 2: embeddings of logged questions, so clustering embeds each text once.
    """
    CREATE TABLE question_vectors (
        text TEXT NOT NULL,
        model TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (text, model)
    );
    """,
    # 3: the tokens a language model reported for the answer (NULL: extractive, or the
    # server did not say).
    """
    ALTER TABLE turns ADD COLUMN prompt_tokens INTEGER;
    ALTER TABLE turns ADD COLUMN completion_tokens INTEGER;
    """,
)


class NewerSchemaError(sqlite3.DatabaseError):
    """The database was written by a newer release (its schema is ahead of this code)."""


def migrate(connection: sqlite3.Connection) -> int:
    """Bring the schema up to date; returns the version it is at. Safe when several
    connections open a new database at once: each migration re-reads the version under
    the write lock, so one that another connection applied meanwhile is not run twice."""
    while True:
        current = _version(connection)
        if current >= len(MIGRATIONS):
            return len(MIGRATIONS)
        connection.execute("BEGIN IMMEDIATE")
        try:
            current = _version(connection)
            if current < len(MIGRATIONS):
                for statement in _statements(MIGRATIONS[current]):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {current + 1}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise


def _version(connection: sqlite3.Connection) -> int:
    current = int(connection.execute("PRAGMA user_version").fetchone()[0])
    if current > len(MIGRATIONS):
        raise NewerSchemaError(
            f"schema version {current} is newer than this release knows ({len(MIGRATIONS)})"
        )
    return current


def _statements(script: str) -> list[str]:
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
