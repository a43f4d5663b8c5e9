"""The schema every backend holds, as SQLAlchemy Core tables (what queries are built
from). The migrations in ``migrations/versions`` create exactly this; a test compares the
two on SQLite and on PostgreSQL.

Two groups, each an Alembic branch: ``log`` (the conversation log, its embeddings cache,
golden promotions and the replicas' reindex requests) and ``feedback``. Embedded, each
group is its own SQLite file (``conversations.sqlite3``, ``feedback.sqlite3``); on
PostgreSQL both live in one database.

Times are ISO 8601 text in UTC with microseconds, so they sort and compare as text on
both backends; flags are integers 0/1, as SQLite stores them.
"""

from __future__ import annotations

import sqlalchemy as sa

LOG = sa.MetaData()
FEEDBACK = sa.MetaData()

turns = sa.Table(
    "turns",
    LOG,
    sa.Column("id", sa.Text, primary_key=True),  # the message_id the chat response carried
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("day", sa.Text, nullable=False),  # YYYY-MM-DD (UTC), for daily figures
    sa.Column("conversation_id", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),  # widget, rest, openai, mcp, cli
    sa.Column("question", sa.Text, nullable=False),  # as asked, capped
    sa.Column("query", sa.Text, nullable=False),  # the standalone query retrieval used
    sa.Column("follow_up", sa.Integer, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("grounded", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text),  # the refusal code
    sa.Column("reason_detail", sa.Text),
    sa.Column("citations", sa.Text, nullable=False, server_default="[]"),
    sa.Column("suggestions", sa.Text, nullable=False, server_default="[]"),
    sa.Column("top_score", sa.Float),
    sa.Column("floor", sa.Float),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("index_version", sa.Text, nullable=False),
    sa.Column("answerer", sa.Text, nullable=False),
    sa.Column("rating", sa.Text),
    sa.Column("comment", sa.Text),
    sa.Column("rated_at", sa.Text),
    sa.Column("reviewed_at", sa.Text),
    sa.Column("promoted_at", sa.Text),
    sa.Column("prompt_tokens", sa.Integer),
    sa.Column("completion_tokens", sa.Integer),
    sa.CheckConstraint("rating IN ('up', 'down')", name="turns_rating"),
    sa.Index("turns_at", "at"),
    sa.Index(
        "turns_needing_review",
        "at",
        sqlite_where=sa.text("grounded = 0 OR rating = 'down'"),
        postgresql_where=sa.text("grounded = 0 OR rating = 'down'"),
    ),
)

question_vectors = sa.Table(
    "question_vectors",
    LOG,
    sa.Column("text", sa.Text, primary_key=True),
    sa.Column("model", sa.Text, primary_key=True),
    sa.Column("vector", sa.LargeBinary, nullable=False),  # float32, little-endian
)

golden_promotions = sa.Table(
    "golden_promotions",
    LOG,
    sa.Column("id", sa.Text, primary_key=True),  # the golden question's id
    sa.Column("turn_id", sa.Text, nullable=False),
    sa.Column("promoted_at", sa.Text, nullable=False),
    sa.Column("line", sa.Text, nullable=False),  # the golden file's JSON line
)

reindex_requests = sa.Table(
    "reindex_requests",
    LOG,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("requested_at", sa.Text, nullable=False),
    sa.Column("replica", sa.Text, nullable=False),  # who asked (and already runs it)
    sa.Column("trigger", sa.Text, nullable=False),
    sa.Column("rebuild", sa.Integer, nullable=False, server_default="0"),
)

replicas = sa.Table(
    "replicas",
    LOG,
    sa.Column("id", sa.Text, primary_key=True),  # host-pid-random, new at every start
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Text, nullable=False),
    sa.Column("seen_at", sa.Text, nullable=False),  # its last heartbeat
    sa.Column("index_version", sa.Text),  # the version it served then
    sa.Column("leader", sa.Integer, nullable=False, server_default="0"),
)

feedback = sa.Table(
    "feedback",
    FEEDBACK,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("conversation_id", sa.Text, nullable=False),
    sa.Column("message_id", sa.Text),
    sa.Column("rating", sa.Text, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("question", sa.Text),
    sa.Column("answer", sa.Text),
    sa.Column("citations", sa.Text, nullable=False, server_default="[]"),
    sa.Column("origin", sa.Text),
    sa.CheckConstraint("rating IN ('up', 'down')", name="feedback_rating"),
    sa.Index("feedback_created", "created_at"),
)
