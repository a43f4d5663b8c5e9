"""The two backends of what visitors and the owner write: one schema (the Alembic
migrations create exactly the tables the code queries, on SQLite and on PostgreSQL, and
a log file from before Alembic ends up the same), and a PostgreSQL server that goes away
while serving costs log rows and feedback, never an answer, and is used again as soon as
it is back."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient

from kbcore.runtime import Runtime
from service.app import create_app
from service.database.engine import Database
from service.database.tables import FEEDBACK, LOG
from tests.conftest import eventually, make_settings
from tests.postgres_server import PostgresServer, start_postgres
from tests.service.conftest import count_turns, sqlite_log
from tests.service.test_conversation_log import LEGACY_V1

TOKEN = "backends-admin-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def differences(database: Database, metadata: sa.MetaData) -> list[Any]:
    database.ensure_schema()
    with database.connect() as connection:
        context = MigrationContext.configure(connection)
        found: list[Any] = compare_metadata(context, metadata)
    return found


def both() -> sa.MetaData:
    merged = sa.MetaData()
    for metadata in (LOG, FEEDBACK):
        for table in metadata.tables.values():
            table.to_metadata(merged)
    return merged


def test_migrations_create_the_schema_the_code_queries_on_both_backends(
    tmp_path: Path, database_url: str
) -> None:
    assert differences(sqlite_log(tmp_path / "log.sqlite3"), LOG) == []
    feedback = Database(f"sqlite+pysqlite:///{tmp_path / 'feedback.sqlite3'}", "feedback")
    assert differences(feedback, FEEDBACK) == []
    assert differences(Database(database_url, "heads"), both()) == []
    # A log written before Alembic (hand-written schema, user_version 1) is stamped and
    # upgraded to the same tables, columns and indexes (SQLite spells a few column types
    # and NULL-ability of the old primary key its own way: those are not structure).
    legacy = tmp_path / "legacy.sqlite3"
    connection = sqlite3.connect(legacy, isolation_level=None)
    connection.executescript(LEGACY_V1)
    connection.close()
    structural = [
        d
        for d in differences(sqlite_log(legacy), LOG)
        if not isinstance(d, list)  # modify_type / modify_nullable come as lists
    ]
    assert structural == []


def test_the_checks_can_fail(tmp_path: Path) -> None:
    """The comparison sees a column the migrations do not make."""
    extra = sa.MetaData()
    for table in LOG.tables.values():
        table.to_metadata(extra)
    extra.tables["turns"].append_column(sa.Column("invented", sa.Text))
    found = differences(sqlite_log(tmp_path / "log.sqlite3"), extra)
    assert [d[0] for d in found] == ["add_column"]


@pytest.fixture()
def own_server(tmp_path: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, to stop and start."""
    server = start_postgres(tmp_path / "pg", fast=True)
    try:
        yield server
    finally:
        server.destroy()


def test_a_database_outage_costs_log_rows_and_feedback_never_answers(
    tmp_path: Path, content_runtime: Runtime, own_server: PostgresServer
) -> None:
    url = own_server.url()
    settings = make_settings(tmp_path, admin_token=TOKEN, database_url=url)
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with TestClient(app) as http:
        state = app.state.kb
        log = state.conversation_log()
        rate = {"conversation_id": "c-1", "rating": "up"}
        first = http.post("/v1/chat", json={"message": "What is LoRA?"})
        assert first.status_code == 200 and first.json()["grounded"]
        assert http.post("/v1/feedback", json=rate).status_code == 201
        assert log.flush() and log.writer.stats.written == 1

        own_server.stop()
        started = time.monotonic()
        during = [http.post("/v1/chat", json={"message": "What is RAG?"}) for _ in range(3)]
        assert [r.status_code for r in during] == [200, 200, 200]
        assert all(r.json()["grounded"] for r in during)
        assert time.monotonic() - started < 3 * (settings.log_commit_wait_s + 2)
        assert log.flush()
        assert log.writer.stats.dropped == 3 and log.writer.stats.written == 1
        refused = http.post("/v1/feedback", json=rate)
        assert refused.status_code == 503 and "retry-after" in refused.headers
        assert refused.json()["type"].endswith("/feedback-unavailable")
        assert "password" not in refused.text and "SELECT" not in refused.text
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
        problems = {p["component"]: p["detail"] for p in ready.json()["problems"]}
        assert set(problems) == {"feedback", "conversation_log"}
        assert "PostgreSQL database kb" in problems["feedback"]
        metrics = http.get("/metrics").text
        assert 'kb_conversation_log_rows_total{outcome="dropped"} 3.0' in metrics

        own_server.start()
        after = http.post("/v1/chat", json={"message": "What is LoRA?"}).json()
        assert http.post("/v1/feedback", json=rate).status_code == 201
        assert log.flush()
        eventually(lambda: http.get("/readyz").json()["status"] == "ready")
        database = Database(url, "heads")
        assert count_turns(database) == 2
        assert count_turns(database, f"id = '{after['message_id']}'") == 1
        listed = http.get("/v1/admin/feedback", headers=AUTH).json()
        assert listed["total"] == 2
        database.dispose()


def test_dropped_tables_are_made_again(tmp_path: Path, database_url: str) -> None:
    """The database is emptied under a running service (restored from an empty dump, the
    schema dropped): the next batch makes the schema again and loses nothing."""
    from service.analytics.writer import LogWriter
    from tests.service.test_conversation_log import _write

    database = Database(database_url, "heads")
    writer = LogWriter(database, retention_days=90)
    try:
        _write(writer, 0, 3)
        with database.write() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        _write(writer, 3, 2)
        assert count_turns(database) == 2 and writer.stats.dropped == 0
        assert writer.stats.recreated == 1
    finally:
        writer.close()
        database.dispose()
