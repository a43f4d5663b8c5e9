"""Alembic's entry point: runs on the connection ``kb`` hands it (``service.database.
migrate``), inside the transaction that already holds the migration lock."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
