"""The conversation log: Alembic migrations (and files from before them), rows written off
the request path, answers that never wait for or fail because of the log (full queue,
locked or read-only database, database server down), KB_ANALYTICS=off, retention pruning,
caps, capped questions and no IP addresses. Tests taking ``backend`` run on SQLite and on a
real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.exc import SQLAlchemyError

from kbcore.answering.models import Answer, Citation
from kbcore.runtime import Runtime
from service.analytics.log import MAX_QUESTION, Channel, ConversationLog, turn_row
from service.analytics.store import FILE_NAME, TurnRow
from service.analytics.writer import LogWriter
from service.app import create_app
from service.database.engine import Database
from service.database.migrate import NewerSchemaError
from tests.conftest import make_settings
from tests.service.conftest import count_turns, log_database, sqlite_log

# The log's first schema as releases before Alembic wrote it (PRAGMA user_version = 1).
LEGACY_V1 = """
CREATE TABLE turns (
    id TEXT PRIMARY KEY, at TEXT NOT NULL, day TEXT NOT NULL, conversation_id TEXT NOT NULL,
    channel TEXT NOT NULL, question TEXT NOT NULL, query TEXT NOT NULL,
    follow_up INTEGER NOT NULL, answer TEXT NOT NULL, grounded INTEGER NOT NULL, reason TEXT,
    reason_detail TEXT, citations TEXT NOT NULL DEFAULT '[]',
    suggestions TEXT NOT NULL DEFAULT '[]', top_score REAL, floor REAL,
    latency_ms REAL NOT NULL, index_version TEXT NOT NULL, answerer TEXT NOT NULL,
    rating TEXT CHECK (rating IN ('up', 'down')), comment TEXT, rated_at TEXT,
    reviewed_at TEXT, promoted_at TEXT
);
CREATE INDEX turns_at ON turns (at);
CREATE INDEX turns_needing_review ON turns (at) WHERE grounded = 0 OR rating = 'down';
PRAGMA user_version = 1;
"""

TOKEN = "analytics-admin-token"
QUESTION = "How much does fine-tuning cost?"


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def count(database: Path, where: str = "1") -> int:
    with closing(sqlite3.connect(database)) as connection:  # closed: it holds no WAL index
        return int(connection.execute(f"SELECT COUNT(*) FROM turns WHERE {where}").fetchone()[0])


def rows_of(database: Database) -> dict[str, dict[str, Any]]:
    with database.connect() as connection:
        return {
            str(r["id"]): dict(r)
            for r in connection.execute(sa.text("SELECT * FROM turns")).mappings()
        }


@contextmanager
def client(tmp: Path, runtime: Runtime, **overrides: Any) -> Iterator[TestClient]:
    settings = make_settings(tmp, admin_token=TOKEN, **overrides)
    with TestClient(create_app(settings, runtime=runtime, sync_on_start=False)) as http:
        yield http


def log_of(http: TestClient) -> ConversationLog:
    state = http.app.state.kb  # type: ignore[attr-defined]
    log: ConversationLog = state.conversation_log()
    return log


def answer(grounded: bool = True) -> Answer:
    citation = Citation(1, "a", "A", "H", "h", "/learn/a#h", "a.md", "Quote.", 0.5)
    return Answer("Quote. [1]", [citation] if grounded else [], grounded, [], "v1", QUESTION)


def _row(message_id: str, channel: Channel) -> TurnRow:
    """A turn answered now, as the chat routes log it."""
    return turn_row(
        message_id=message_id,
        channel=channel,
        conversation_id="c",
        question=QUESTION,
        history=(),
        answer=answer(),
        latency_ms=1.0,
        at=dt.datetime.now(dt.UTC),
    )


def test_a_log_from_before_alembic_is_upgraded_and_a_newer_one_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / FILE_NAME
    connection = sqlite3.connect(path, isolation_level=None)
    connection.executescript(LEGACY_V1)
    row = _row("m-old", Channel.REST)
    connection.execute(
        "INSERT INTO turns (id, at, day, conversation_id, channel, question, query, follow_up, "
        "answer, grounded, latency_ms, index_version, answerer) VALUES "
        "(?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (row.id, row.at, row.day, "c", "rest", QUESTION, QUESTION, 0, "A", 1, 1.0, "v", "x"),
    )
    connection.close()

    database = sqlite_log(path)
    database.ensure_schema()  # stamped log_0001, then upgraded: rows kept
    with database.connect() as upgraded:
        assert upgraded.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [
            ("log_0004",)
        ]
        assert upgraded.exec_driver_sql("SELECT id, prompt_tokens FROM turns").all() == [
            ("m-old", None)
        ]
        upgraded.exec_driver_sql("SELECT text, model, vector FROM question_vectors").all()
        upgraded.exec_driver_sql("SELECT id, line FROM golden_promotions").all()
    sqlite_log(path).ensure_schema()  # idempotent
    with database.write() as newer:
        newer.exec_driver_sql("UPDATE alembic_version SET version_num = 'log_0999'")
    with pytest.raises(NewerSchemaError, match="newer"):
        sqlite_log(path).ensure_schema()
    legacy_newer = tmp_path / "newer.sqlite3"
    connection = sqlite3.connect(legacy_newer, isolation_level=None)
    connection.executescript(LEGACY_V1.replace("user_version = 1", "user_version = 9"))
    connection.close()
    with pytest.raises(NewerSchemaError, match="newer"):
        sqlite_log(legacy_newer).ensure_schema()


def test_every_turn_is_logged_with_its_facts_and_no_ip_address(
    tmp_path: Path, content_runtime: Runtime, backend: dict[str, Any]
) -> None:
    long_question = "How much does fine-tuning cost " + "and why " * 300 + "?"
    with client(tmp_path, content_runtime, **backend) as http:
        headers = {"X-Forwarded-For": "203.0.113.77", "User-Agent": "Agent/9.9-secret"}
        first = http.post("/v1/chat", json={"message": QUESTION}, headers=headers).json()
        long = http.post("/v1/chat", json={"message": long_question[:2000]}).json()
        assert first["message_id"].startswith("m-") and first["message_id"] != long["message_id"]
        assert log_of(http).flush()
        database = log_of(http).database
        rows = rows_of(database)
    row = rows[first["message_id"]]
    assert row["question"] == row["query"] == QUESTION and row["channel"] == "rest"
    assert row["grounded"] == 1 and row["reason"] is None and row["follow_up"] == 0
    assert row["conversation_id"] == first["conversation_id"]
    assert row["index_version"] == first["index_version"] and row["latency_ms"] > 0
    assert row["answer"] == first["answer"] and row["top_score"] > 0
    assert "fine-tuning-cost" in row["citations"] and row["rating"] is None
    assert len(rows[long["message_id"]]["question"]) == MAX_QUESTION
    text = repr(list(rows.values()))
    assert "203.0.113.77" not in text and "Agent/9.9" not in text and "testclient" not in text
    if database.path is not None:
        raw = b"".join(p.read_bytes() for p in database.path.parent.glob(FILE_NAME + "*"))
        assert b"203.0.113.77" not in raw and b"Agent/9.9" not in raw


def test_analytics_off_writes_nothing_and_hides_the_routes(
    tmp_path: Path,
    content_runtime: Runtime,
    caplog: pytest.LogCaptureFixture,
    backend: dict[str, Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    refused = "Which submarine did Captain Nemo command in 1870?"
    with client(tmp_path, content_runtime, analytics=False, **backend) as http:
        assert not http.post("/v1/chat", json={"message": refused}).json()["grounded"]
        body = http.post("/v1/chat", json={"message": QUESTION}).json()
        assert body["grounded"] and body["message_id"]
        feedback = {"conversation_id": "c-1", "message_id": body["message_id"], "rating": "up"}
        assert http.post("/v1/feedback", json=feedback).status_code == 201
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for path in ("/v1/admin/analytics", "/v1/admin/review", "/admin/panels"):
            response = http.get(path, headers=auth)
            assert response.status_code == 404, path
            assert response.json()["type"].endswith("/analytics-disabled")
    assert not (tmp_path / "data" / FILE_NAME).exists()
    assert not list((tmp_path / "data").glob("conversations*"))
    if backend:  # the shared database has the tables (feedback is on) but no turn
        shared = Database(backend["database_url"], "heads")
        assert count_turns(shared) == 0
        shared.dispose()
    # Nothing of the visitors' words in any log line, refused or answered.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "refused (" in logged  # the refusal itself is logged, by its code
    assert "Nemo" not in logged and "fine-tuning cost" not in logged


def test_databases_are_private_to_the_service_user(
    tmp_path: Path, content_runtime: Runtime
) -> None:
    data = tmp_path / "fresh" / "data"
    with client(tmp_path, content_runtime, data_dir=data) as http:
        body = http.post("/v1/chat", json={"message": QUESTION}).json()
        feedback = {"conversation_id": "c-1", "message_id": body["message_id"], "rating": "up"}
        assert http.post("/v1/feedback", json=feedback).status_code == 201
        assert log_of(http).flush()
    files = [p for p in data.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {FILE_NAME, "feedback.sqlite3"}
    for path in files:
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is {oct(path.stat().st_mode)}"
    assert data.stat().st_mode & 0o077 == 0


def test_a_locked_database_loses_log_rows_never_answers(
    tmp_path: Path, content_runtime: Runtime
) -> None:
    with client(tmp_path, content_runtime) as http:
        assert http.post("/v1/chat", json={"message": QUESTION}).status_code == 200
        log = log_of(http)
        assert log.flush()
        database = tmp_path / "data" / FILE_NAME
        locker = sqlite3.connect(database, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            dropped = log.writer.stats.dropped
            for _ in range(3):
                response = http.post("/v1/chat", json={"message": "What is RAG?"})
                assert response.status_code == 200 and response.json()["grounded"]
            wait_for(lambda: log.writer.stats.dropped >= dropped + 1)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        after = http.post("/v1/chat", json={"message": "What is LoRA?"}).json()
        assert log.flush()
    assert count(database, f"id = '{after['message_id']}'") == 1  # the log recovers


def test_a_read_only_database_still_answers(tmp_path: Path, content_runtime: Runtime) -> None:
    with client(tmp_path, content_runtime) as http:
        assert http.post("/v1/chat", json={"message": QUESTION}).status_code == 200
        log = log_of(http)
        assert log.flush()
        log.writer.close()  # the next writer opens the file anew
        database = tmp_path / "data" / FILE_NAME
        frozen = [database, *database.parent.glob(FILE_NAME + "-*"), database.parent]
        made = subprocess.run(["chattr", "+i", *map(str, frozen)], capture_output=True)
        if made.returncode != 0:
            pytest.skip(f"chattr cannot make files immutable here: {made.stderr!r}")
        try:
            writer = LogWriter(sqlite_log(database), retention_days=90)
            log.writer = writer
            for _ in range(2):
                response = http.post("/v1/chat", json={"message": "What is RAG?"})
                assert response.status_code == 200 and response.json()["grounded"]
            wait_for(lambda: writer.stats.dropped >= 2)
            assert writer.stats.written == 0
        finally:
            subprocess.run(["chattr", "-i", *map(str, frozen)], check=True)
    assert count(database) == 1


def test_a_full_queue_drops_rows_without_blocking(tmp_path: Path) -> None:
    database = tmp_path / FILE_NAME
    sqlite_log(database).ensure_schema()
    locker = sqlite3.connect(database, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    writer = LogWriter(sqlite_log(database), retention_days=90, capacity=2)
    row = _row("m-x", Channel.CLI)
    try:
        started = time.perf_counter()
        accepted = [writer.submit(row) for _ in range(200)]
        elapsed = time.perf_counter() - started
        refused = [f for f in accepted if f.done() and not f.result()]
        assert len(refused) >= 196 and writer.stats.dropped >= 196
        assert elapsed < 0.5  # 200 submits against a locked database: no waiting
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        writer.close()


def test_turns_older_than_the_retention_period_are_pruned(
    tmp_path: Path, backend: dict[str, Any]
) -> None:
    settings = make_settings(tmp_path, analytics_retention_days=30, **backend)
    keep_all = make_settings(tmp_path, analytics_retention_days=3650, **backend)
    now = dt.datetime.now(dt.UTC)
    for days, message_id in ((45, "m-old"), (31, "m-older-than-30"), (2, "m-recent")):
        past = ConversationLog(
            keep_all,
            log_database(keep_all),
            clock=lambda days=days: now - dt.timedelta(days=days),
        )
        past.record(
            channel=Channel.REST,
            message_id=message_id,
            conversation_id="c",
            question=QUESTION,
            answer=answer(),
            latency_ms=1.0,
        )
        past.close()
    database = log_database(settings)
    assert count_turns(database) == 3

    fresh = ConversationLog(settings, database)
    fresh.start()  # prunes when it starts, before any question
    try:
        wait_for(lambda: count_turns(database) == 1)
        assert list(rows_of(database)) == ["m-recent"]
        assert fresh.writer.stats.pruned == 2
    finally:
        fresh.close()


def test_feedback_joins_its_turn_by_message_id(
    tmp_path: Path, content_runtime: Runtime, backend: dict[str, Any]
) -> None:
    with client(tmp_path, content_runtime, **backend) as http:
        body = http.post("/v1/chat", json={"message": QUESTION}).json()
        feedback = {
            "conversation_id": body["conversation_id"],
            "message_id": body["message_id"],
            "rating": "down",
            "comment": "It missed the hosting cost.",
        }
        assert http.post("/v1/feedback", json=feedback).status_code == 201
        unknown = {**feedback, "message_id": "m-not-logged"}
        assert http.post("/v1/feedback", json=unknown).status_code == 201  # still stored
        assert log_of(http).flush()
        row = rows_of(log_of(http).database)[body["message_id"]]
    assert (row["rating"], row["comment"]) == ("down", "It missed the hosting cost.")
    assert row["rated_at"]


def test_connections_opening_a_new_log_at_once_all_get_the_schema(tmp_path: Path) -> None:
    """The writer thread and an owner's request (or two processes) may open a brand-new
    log together: none of them may fail (the WAL switch and the migration are taken one
    at a time)."""
    failures: list[str] = []
    for attempt in range(10):
        database = tmp_path / f"{attempt}.sqlite3"
        barrier = threading.Barrier(4)

        def open_it(database: Path = database, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                sqlite_log(database).ensure_schema()
            except SQLAlchemyError as exc:
                failures.append(str(exc))

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with closing(sqlite3.connect(database)) as connection:
            versions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
            assert versions == [("log_0004",)]
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert failures == []


def test_replicas_starting_together_migrate_a_new_database_once(database_url: str) -> None:
    """Four replicas open the same new PostgreSQL database at once: the advisory lock
    makes one migrate and the others find it done."""
    barrier = threading.Barrier(4)
    failures: list[str] = []

    def open_it() -> None:
        database = Database(database_url, "heads")
        barrier.wait()
        try:
            database.ensure_schema()
        except SQLAlchemyError as exc:
            failures.append(str(exc))
        finally:
            database.dispose()

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    database = Database(database_url, "heads")
    with database.connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    database.dispose()
    assert sorted(v for (v,) in versions) == ["feedback_0001", "log_0004"]


def _write(writer: LogWriter, first: int, rows: int) -> None:
    written = [writer.submit(_row(f"m-{n:06d}", Channel.CLI)) for n in range(first, first + rows)]
    assert writer.flush(30)
    assert all(f.result(0) for f in written)


def _backend_database(tmp_path: Path, backend: dict[str, Any], name: str) -> Database:
    if "database_url" in backend:
        return Database(backend["database_url"], "heads")
    return sqlite_log(tmp_path / f"{name}.sqlite3")


def _size(database: Database) -> int:
    if database.path is not None:
        return database.path.stat().st_size
    with database.connect() as connection:
        return database.size_bytes(connection, "turns", "question_vectors")


def test_the_log_keeps_under_its_row_cap_oldest_first(
    tmp_path: Path, backend: dict[str, Any]
) -> None:
    by_rows = _backend_database(tmp_path, backend, "rows")
    writer = LogWriter(by_rows, retention_days=90, max_rows=300)
    try:
        _write(writer, 0, 1_500)
    finally:
        writer.close()
    kept = count_turns(by_rows)
    assert 300 <= kept < 300 + 500  # checked every 500 rows written
    assert writer.stats.capped == 1_500 - kept and writer.stats.written == 1_500
    with by_rows.connect() as connection:
        oldest = connection.exec_driver_sql("SELECT MIN(id) FROM turns").scalar_one()
    assert oldest > "m-000300"  # the oldest went first


def test_the_log_keeps_under_its_size_cap(tmp_path: Path, database_url: str) -> None:
    sizes = {}
    cases = (
        ("uncapped", sqlite_log(tmp_path / "uncapped.sqlite3"), 10**9),
        ("capped", sqlite_log(tmp_path / "capped.sqlite3"), 300_000),
        ("pg-uncapped", Database(database_url, "heads"), 10**9),
    )
    for name, database, max_bytes in cases:
        writer = LogWriter(database, retention_days=90, max_bytes=max_bytes)
        try:
            for batch in range(8):
                _write(writer, batch * 1_000, 1_000)
        finally:
            writer.close()
        sizes[name] = _size(database)
        assert (writer.stats.capped > 0) is (name == "capped")
    # Near the cap (it is checked every 500 rows), where 8,000 turns take several times it.
    assert sizes["capped"] < 2 * 300_000 < sizes["uncapped"] / 2
    # On PostgreSQL the cap counts the tables' own bytes: a cap under what 8,000 turns
    # take there keeps the tables near it.
    pg_cap = sizes["pg-uncapped"] // 4
    with Database(database_url, "heads").write() as connection:
        connection.exec_driver_sql("TRUNCATE turns, question_vectors")
    capped = Database(database_url, "heads")
    writer = LogWriter(capped, retention_days=90, max_bytes=pg_cap)
    try:
        for batch in range(8):
            _write(writer, batch * 1_000, 1_000)
    finally:
        writer.close()
    assert writer.stats.capped > 0 and count_turns(capped) < 8_000 // 2


def test_a_log_deleted_or_corrupted_while_serving_is_started_afresh(tmp_path: Path) -> None:
    database = tmp_path / FILE_NAME
    writer = LogWriter(sqlite_log(database), retention_days=90)
    try:
        _write(writer, 0, 3)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        _write(writer, 3, 2)  # the writer notices before writing, loses nothing
        assert count(database) == 2 and writer.stats.recreated == 1
        assert writer.stats.dropped == 0
        writer.close()
        database.write_bytes(b"this is not a database" * 500)
        for suffix in ("-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        writer = LogWriter(sqlite_log(database), retention_days=90)
        _write(writer, 5, 1)  # noticed before writing: the file is set aside, nothing lost
        _write(writer, 6, 2)
        assert writer.stats.dropped == 0 and count(database) == 3
        assert len(list(tmp_path.glob(f"{FILE_NAME}.corrupt-*"))) == 1
    finally:
        writer.close()


def test_a_log_overwritten_in_place_while_serving_is_noticed(tmp_path: Path) -> None:
    """The chaos run: garbage written over the open log (same inode) and its WAL deleted;
    the writer's connection went on "writing" into the deleted WAL, every row lost
    unseen."""
    database = tmp_path / FILE_NAME
    writer = LogWriter(sqlite_log(database), retention_days=90)
    try:
        _write(writer, 0, 3)
        for suffix in ("-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        database.write_bytes(b"garbage, not a database " * 400)
        _write(writer, 3, 2)
        assert count(database) == 2 and writer.stats.recreated == 1
        assert len(list(tmp_path.glob(f"{FILE_NAME}.corrupt-*"))) == 1
        Path(f"{database}-wal").unlink(missing_ok=True)  # only the WAL
        _write(writer, 5, 2)
        assert count(database) == 2 + 2 and writer.stats.dropped == 0
    finally:
        writer.close()


def test_log_row_outcomes_are_in_the_metrics(
    tmp_path: Path, content_runtime: Runtime, backend: dict[str, Any]
) -> None:
    with client(tmp_path, content_runtime, **backend) as http:
        assert http.post("/v1/chat", json={"message": QUESTION}).status_code == 200
        assert log_of(http).flush()
        text = http.get("/metrics").text
    assert 'kb_conversation_log_rows_total{outcome="written"} 1.0' in text
    assert 'kb_conversation_log_rows_total{outcome="dropped"} 0.0' in text
    assert "kb_conversation_log_recreated_total 0.0" in text
