"""Visitors' thumbs up or down, with what they were shown."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "feedback_0001"
down_revision = None
branch_labels = ("feedback",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
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
    )
    op.create_index("feedback_created", "feedback", ["created_at"])


def downgrade() -> None:
    op.drop_table("feedback")
