"""The real-PostgreSQL harness (tests/postgres_server.py) does what the tests relying on it
assume: isolated databases, the settings it promises, clear failures, and durable commits
across a crash of the server."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.postgres_server import PostgresServer, require_postgres, start_postgres


def _database(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_fresh_databases_are_isolated(postgres: PostgresServer) -> None:
    first, second = postgres.fresh_database(), postgres.fresh_database()
    assert first != second
    assert first.startswith(f"postgresql+psycopg://kb@127.0.0.1:{postgres.port}/")

    with psycopg.connect(postgres.conninfo(_database(first)), autocommit=True) as conn:
        conn.execute("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)")
        conn.execute("INSERT INTO notes VALUES (1, 'only here')")
        assert conn.execute("SELECT body FROM notes").fetchall() == [("only here",)]

    with psycopg.connect(postgres.conninfo(_database(second)), autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('public.notes')").fetchone() == (None,)

    # The URL is what the service gets: SQLAlchemy 2 with the psycopg 3 driver.
    engine = sa.create_engine(first)
    try:
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM notes")) == 1
    finally:
        engine.dispose()


def test_database_url_fixture(database_url: str, postgres: PostgresServer) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            name = conn.scalar(sa.text("SELECT current_database()"))
            tables = conn.scalar(
                sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            )
    finally:
        engine.dispose()
    assert name == _database(database_url) != "kb"
    assert tables == 0


def test_session_server_settings(postgres: PostgresServer) -> None:
    with postgres.connect() as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                (
                    [
                        "max_connections",
                        "listen_addresses",
                        "unix_socket_directories",
                        "fsync",
                        "server_encoding",
                        "lc_collate",
                    ],
                ),
            ).fetchall()
        )
        assert conn.execute("SELECT current_database(), current_user").fetchone() == ("kb", "kb")
    assert settings == {
        "max_connections": "200",
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(postgres.data_dir),
        "fsync": "off",  # the session server is fast=True
        "server_encoding": "UTF8",
        "lc_collate": "C",
    }
    assert (postgres.data_dir / f".s.PGSQL.{postgres.port}").is_socket()


def test_start_failure_names_the_cause(tmp_path: Path) -> None:
    require_postgres()
    with pytest.raises(RuntimeError) as failure:
        start_postgres(tmp_path / "pg", fast=True, settings={"max_connections": "-5"})
    message = str(failure.value)
    assert "pg_ctl start failed" in message
    assert "max_connections" in message  # the server log's own explanation is included


def test_kill_then_start_keeps_committed_rows(tmp_path: Path) -> None:
    """A SIGKILLed postmaster (no shutdown checkpoint) restarts on the same folder and port
    through crash recovery: committed rows are there, an open transaction's are not."""
    require_postgres()
    began = time.monotonic()
    server = start_postgres(tmp_path / "pg")  # fast=False: real fsync, as in production
    try:
        with server.connect() as conn:
            assert conn.execute("SHOW fsync").fetchone() == ("on",)
            conn.execute("CREATE TABLE events (id int PRIMARY KEY)")
            for i in range(100):
                conn.execute("INSERT INTO events VALUES (%s)", (i,))  # autocommit: 100 commits

        pending = server.connect(autocommit=False)
        pending.execute("INSERT INTO events VALUES (-1)")  # never committed
        port, pid = server.port, server.pid()

        server.kill()
        assert not server.is_running()
        with pytest.raises(psycopg.OperationalError):
            pending.execute("SELECT 1")
        pending.close()
        server.kill()  # no-op: nothing runs

        server.start()
        assert server.port == port and server.pid() != pid
        with server.connect() as conn:
            ids = [row[0] for row in conn.execute("SELECT id FROM events ORDER BY id")]
        assert ids == list(range(100))
        assert "database system was interrupted" in server.log_file.read_text()

        server.stop()
        server.stop()  # idempotent
        assert not server.is_running()
        server.start()
        with server.connect() as conn:
            assert conn.execute("SELECT count(*) FROM events").fetchone() == (100,)
    finally:
        server.destroy()
    assert not server.data_dir.exists()
    assert time.monotonic() - began < 15
