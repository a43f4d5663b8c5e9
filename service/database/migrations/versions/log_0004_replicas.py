"""What several replicas share: golden-set promotions (an id is promoted once, whichever
replica the owner's click reached), reindex requests broadcast to every replica, and
each replica's heartbeat (what it serves, whether it leads)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "log_0004"
down_revision = "log_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "golden_promotions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("turn_id", sa.Text, nullable=False),
        sa.Column("promoted_at", sa.Text, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
    )
    op.create_table(
        "reindex_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("requested_at", sa.Text, nullable=False),
        sa.Column("replica", sa.Text, nullable=False),
        sa.Column("trigger", sa.Text, nullable=False),
        sa.Column("rebuild", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "replicas",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Text, nullable=False),
        sa.Column("seen_at", sa.Text, nullable=False),
        sa.Column("index_version", sa.Text),
        sa.Column("leader", sa.Integer, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("replicas")
    op.drop_table("reindex_requests")
    op.drop_table("golden_promotions")
