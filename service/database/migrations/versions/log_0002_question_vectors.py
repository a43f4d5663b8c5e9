"""Embeddings of logged questions, so clustering embeds each text once."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "log_0002"
down_revision = "log_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "question_vectors",
        sa.Column("text", sa.Text, primary_key=True),
        sa.Column("model", sa.Text, primary_key=True),
        sa.Column("vector", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("question_vectors")
