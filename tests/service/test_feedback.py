"""`POST /v1/feedback` and `GET /v1/admin/feedback`: validation, durable storage (SQLite,
or PostgreSQL for tests taking ``backend``), newest-first listing and the admin token
guard."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kbcore.runtime import Runtime
from service.app import create_app
from service.database.engine import Database
from service.feedback.store import FeedbackStore, NewFeedback
from tests.conftest import make_settings

TOKEN = "feedback-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
VALID: dict[str, Any] = {
    "conversation_id": "w-0f3a",
    "message_id": "m-1",
    "rating": "down",
    "comment": "It missed the retraining cost.",
    "question": "How much does fine-tuning cost?",
    "answer": "A run costs $50-500 [1].",
    "citations": [
        "/learn/fine-tuning-cost#how-much-does-a-single-fine-tuning-run-cost",
        "https://docs.example.com/learn/fine-tuning-cost",
    ],
}


def app_client(tmp: Path, runtime: Runtime, **overrides: Any) -> TestClient:
    settings = make_settings(tmp, **overrides)
    return TestClient(create_app(settings, runtime=runtime, sync_on_start=False))


def sqlite_feedback(path: Path) -> Database:
    return Database(f"sqlite+pysqlite:///{path}", "feedback")


def backend_feedback(tmp_path: Path, backend: dict[str, Any]) -> Database:
    if "database_url" in backend:
        return Database(backend["database_url"], "heads")
    return sqlite_feedback(tmp_path / "feedback.sqlite3")


@pytest.fixture()
def http(tmp_path: Path, content_runtime: Runtime) -> Iterator[TestClient]:
    with app_client(tmp_path, content_runtime, admin_token=TOKEN) as client:
        yield client


@pytest.fixture()
def http_on(
    tmp_path: Path, content_runtime: Runtime, backend: dict[str, Any]
) -> Iterator[TestClient]:
    with app_client(tmp_path, content_runtime, admin_token=TOKEN, **backend) as client:
        yield client


def test_feedback_is_stored_durably_and_listed_newest_first(
    tmp_path: Path, http_on: TestClient, content_runtime: Runtime, backend: dict[str, Any]
) -> None:
    http = http_on
    first = http.post("/v1/feedback", json=VALID)
    assert first.status_code == 201, first.text
    assert set(first.json()) == {"id", "created_at"}
    second = http.post(
        "/v1/feedback",
        json={"conversation_id": "w-0f3a", "rating": "up"},
        headers={"Origin": "https://docs.example.com"},
    )
    assert second.status_code == 201

    if not backend:
        database = tmp_path / "data" / "feedback.sqlite3"
        assert database.is_file()
        with sqlite3.connect(database) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with backend_feedback(tmp_path / "data", backend).connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM feedback").scalar_one() == 2

    listed = http.get("/v1/admin/feedback", headers=AUTH).json()
    assert listed["total"] == 2 and listed["limit"] == 50 and listed["offset"] == 0
    newest, oldest = listed["items"]
    assert newest["id"] == second.json()["id"] and newest["rating"] == "up"
    assert newest["origin"] == "https://docs.example.com"
    assert newest["comment"] is None and newest["citations"] == []
    assert oldest["id"] == first.json()["id"]
    for key in ("conversation_id", "message_id", "rating", "comment", "question", "answer"):
        assert oldest[key] == VALID[key]
    assert oldest["citations"] == VALID["citations"]

    # A fresh app over the same data folder still has every record.
    with app_client(tmp_path, content_runtime, admin_token=TOKEN, **backend) as again:
        assert again.get("/v1/admin/feedback", headers=AUTH).json()["total"] == 2


def test_listing_pages_with_limit_and_offset(http_on: TestClient) -> None:
    http = http_on
    ids = [
        http.post("/v1/feedback", json={"conversation_id": f"c-{n}", "rating": "up"}).json()["id"]
        for n in range(5)
    ]
    page = http.get("/v1/admin/feedback", params={"limit": 2, "offset": 1}, headers=AUTH).json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 1
    assert [item["id"] for item in page["items"]] == ids[::-1][1:3]
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "x"}):
        response = http.get("/v1/admin/feedback", params=params, headers=AUTH)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"conversation_id": None}, "conversation_id"),
        ({"conversation_id": "has spaces"}, "conversation_id"),
        ({"conversation_id": "x" * 65}, "conversation_id"),
        ({"message_id": "<script>"}, "message_id"),
        ({"rating": "meh"}, "rating"),
        ({"rating": None}, "rating"),
        ({"comment": "x" * 2001}, "comment"),
        ({"question": "x" * 2001}, "question"),
        ({"answer": "x" * 8001}, "answer"),
        ({"citations": "/learn/a"}, "citations"),
        ({"citations": ["javascript:alert(1)"]}, "citations"),
        ({"citations": ["data:text/html,hi"]}, "citations"),
        ({"citations": ["//evil.example/x"]}, "citations"),
        ({"citations": ["/learn/a b"]}, "citations"),
        ({"citations": ["/learn/a"] * 51}, "citations"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_feedback_is_a_422_problem(
    http: TestClient, change: dict[str, Any], field: str
) -> None:
    body = {**VALID, **change}
    body = {key: value for key, value in body.items() if value is not None}
    response = http.post("/v1/feedback", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert any(e["field"].startswith(field) for e in response.json()["errors"])
    listed = http.get("/v1/admin/feedback", headers=AUTH).json()
    assert listed["total"] == 0


def test_malformed_json_and_oversized_bodies_are_problems(http: TestClient) -> None:
    bad = http.post("/v1/feedback", content=b"{nope", headers={"Content-Type": "application/json"})
    assert bad.status_code == 422 and bad.json()["detail"] == "the request body is not valid JSON"
    huge = http.post("/v1/feedback", content=json.dumps({**VALID, "answer": "x" * 70_000}))
    assert huge.status_code == 413


@pytest.mark.parametrize(
    ("token", "headers", "status"),
    [
        (None, AUTH, 404),
        (TOKEN, {}, 401),
        (TOKEN, {"Authorization": "Basic abc"}, 401),
        (TOKEN, {"Authorization": "Bearer "}, 401),
        (TOKEN, {"Authorization": "Bearer wrong-token"}, 403),
        (TOKEN, AUTH, 200),
    ],
)
def test_admin_listing_requires_the_token(
    tmp_path: Path,
    content_runtime: Runtime,
    token: str | None,
    headers: dict[str, str],
    status: int,
) -> None:
    with app_client(tmp_path, content_runtime, admin_token=token) as client:
        response = client.get("/v1/admin/feedback", headers=headers)
    assert response.status_code == status
    if status != 200:
        assert response.headers["content-type"] == "application/problem+json"
        assert TOKEN not in response.text
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_store_is_safe_under_concurrent_writers(tmp_path: Path, backend: dict[str, Any]) -> None:
    store = FeedbackStore(backend_feedback(tmp_path / "nested", backend))
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for n in range(15):
                store.add(NewFeedback(conversation_id=f"c-{worker}-{n}", rating="up"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    items, total = store.list(limit=200)
    assert total == 120 and len({item["id"] for item in items}) == 120


# --- issue #13: what a hostile visitor or a clumsy operator did to the store ----------------


def test_lone_surrogate_is_refused_and_never_breaks_the_listing(
    http: TestClient, tmp_path: Path
) -> None:
    """Item 4: a lone surrogate in `citations` was stored; the admin listing then 500ed."""
    raw = '{"conversation_id": "c-1", "rating": "up", "citations": ["/learn/a\\ud800"]}'
    for body in (raw, raw.replace('"citations": ["/learn/a\\ud800"]', '"comment": "x\\udfff"')):
        response = http.post(
            "/v1/feedback", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, body
        assert "UTF-8" in response.text
    # A row stored by an earlier release is listed with U+FFFD instead of a 500.
    store = FeedbackStore(sqlite_feedback(tmp_path / "data" / "feedback.sqlite3"))
    store.add(NewFeedback(conversation_id="c-2", rating="down", citations=("/learn/b\ud800",)))
    listed = http.get("/v1/admin/feedback", headers=AUTH)
    assert listed.status_code == 200
    assert listed.json()["items"][0]["citations"] == ["/learn/b\ufffd"]


@pytest.mark.parametrize("offset", ["9223372036854775808", "-1", str(10**7 + 1)])
def test_out_of_range_offset_is_422(http: TestClient, offset: str) -> None:
    """Item 4: offset=9223372036854775808 was a 500 (SQLite's integer overflow)."""
    response = http.get("/v1/admin/feedback", params={"offset": offset}, headers=AUTH)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_deleted_or_corrupt_database_is_recreated_without_a_restart(
    http: TestClient, tmp_path: Path
) -> None:
    """Item 6: after the file was deleted or corrupted every post was a 500 until restart."""
    db = tmp_path / "data" / "feedback.sqlite3"
    assert http.post("/v1/feedback", json=VALID).status_code == 201
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    assert http.post("/v1/feedback", json=VALID).status_code == 201
    assert http.get("/v1/admin/feedback", headers=AUTH).json()["total"] == 1
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not a database" * 100)
    assert http.post("/v1/feedback", json=VALID).status_code == 201
    assert http.get("/readyz").status_code == 200
    kept = list(db.parent.glob("feedback.sqlite3.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes().startswith(b"this is not")


def test_unwritable_store_is_503_and_readyz_says_so_until_it_recovers(
    http: TestClient, tmp_path: Path
) -> None:
    """A store that cannot be written (a full disk, a folder in the way) answered 500
    while /readyz stayed 200; then /readyz went 503 for it, taking an instance whose
    answers were fine out of the balancer (#22 item 2): now it is reported, not a 503."""
    db = tmp_path / "data" / "feedback.sqlite3"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.mkdir()  # the database path is taken by a folder: nothing can open it
    response = http.post("/v1/feedback", json=VALID)
    assert response.status_code == 503 and "retry-after" in response.headers
    assert response.json()["type"].endswith("/feedback-unavailable")
    assert "sqlite" not in response.json()["detail"].lower()
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    [problem] = ready.json()["problems"]
    assert problem["component"] == "feedback" and "feedback.sqlite3" in problem["detail"]
    assert str(tmp_path) not in ready.text
    assert "kb_feedback_failing 1.0" in http.get("/metrics").text
    assert http.post("/v1/chat", json={"message": "What is LoRA?"}).status_code == 200
    db.rmdir()
    assert http.post("/v1/feedback", json=VALID).status_code == 201
    ready = http.get("/readyz")
    assert ready.json()["status"] == "ready" and ready.json()["problems"] == []
    metrics = http.get("/metrics").text
    assert "kb_feedback_failing 0.0" in metrics
    assert 'kb_feedback_rows_total{outcome="dropped"} 1.0' in metrics


def test_rows_are_capped_and_expire(tmp_path: Path, backend: dict[str, Any]) -> None:
    import datetime as dt

    store = FeedbackStore(backend_feedback(tmp_path, backend), max_rows=100, retention_days=30)
    now = dt.datetime.now(dt.UTC)
    store.add(NewFeedback(conversation_id="old", rating="up"), now=now - dt.timedelta(days=31))
    for i in range(120):
        store.add(NewFeedback(conversation_id=f"c{i}", rating="up"), now=now)
    store.prune(now)
    items, total = store.list(limit=200)
    assert total == 100 and all(item["conversation_id"] != "old" for item in items)
    assert items[0]["conversation_id"] == "c119"
    counts = store.counts()
    assert counts["written"] == 121 and counts["pruned"] == 1 and counts["capped"] == 20


def test_feedback_stays_under_its_size_cap(tmp_path: Path, backend: dict[str, Any]) -> None:
    database = backend_feedback(tmp_path, backend)
    cap = 2**20
    store = FeedbackStore(database, max_rows=1_000_000, max_bytes=cap)
    # ~6 MB of comments into a 1 MB cap, pruned every 100 records (PostgreSQL compresses
    # repeated text: its comments vary)
    for i in range(3000):
        comment = " ".join(f"{i * 7919 + j:x}" for j in range(300))[:2000]
        store.add(NewFeedback(conversation_id=f"c{i}", rating="down", comment=comment))
    store.prune()
    if database.path is not None:
        assert database.path.stat().st_size <= 1.6 * cap  # pages freed by the cap are reused
    with database.connect() as connection:
        assert database.size_bytes(connection, "feedback") <= 1.6 * cap
    items, total = store.list(limit=1)
    # (PostgreSQL stores these comments compressed: more of them fit)
    assert 100 < total < (600 if database.path else 1500)
    assert items[0]["conversation_id"] == "c2999"  # the newest stay
    assert store.counts()["capped"] == 3000 - total


def test_admin_token_with_a_trailing_newline_is_accepted(
    tmp_path: Path, content_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 5: `KB_ADMIN_TOKEN=$'...\\n'` (read from a file): the right token got 403."""
    monkeypatch.setenv("KB_ADMIN_TOKEN", TOKEN + "\n")
    monkeypatch.setenv("KB_OPENAI_API_KEY", " sk-test-key\n")
    settings = make_settings(tmp_path)
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == TOKEN
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-test-key"
    monkeypatch.delenv("KB_OPENAI_API_KEY")
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings, runtime=content_runtime, sync_on_start=False)) as c:
        assert c.get("/v1/admin/feedback", headers=AUTH).status_code == 200
        wrong = {"Authorization": f"Bearer {TOKEN}x"}
        assert c.get("/v1/admin/feedback", headers=wrong).status_code == 403
