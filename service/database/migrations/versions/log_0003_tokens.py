"""The tokens a language model reported for the answer (NULL: extractive, or the server
did not say)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "log_0003"
down_revision = "log_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("turns", sa.Column("prompt_tokens", sa.Integer))
    op.add_column("turns", sa.Column("completion_tokens", sa.Integer))


def downgrade() -> None:
    op.drop_column("turns", "completion_tokens")
    op.drop_column("turns", "prompt_tokens")
