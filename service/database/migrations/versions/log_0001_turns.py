"""The conversation log: one row per answered or refused question. No IP address, no
user agent."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "log_0001"
down_revision = None
branch_labels = ("log",)
depends_on = None

NEEDS_REVIEW = "grounded = 0 OR rating = 'down'"


def upgrade() -> None:
    op.create_table(
        "turns",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("day", sa.Text, nullable=False),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("follow_up", sa.Integer, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("grounded", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text),
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
        sa.CheckConstraint("rating IN ('up', 'down')", name="turns_rating"),
    )
    op.create_index("turns_at", "turns", ["at"])
    op.create_index(
        "turns_needing_review",
        "turns",
        ["at"],
        sqlite_where=sa.text(NEEDS_REVIEW),
        postgresql_where=sa.text(NEEDS_REVIEW),
    )


def downgrade() -> None:
    op.drop_table("turns")
