"""The review queue's actions: mark reviewed, and promote into the golden file (the cited
article by default, the owner's choice, or unanswerable) as lines `kb eval` reads; one
promotion per turn; a symlinked golden file refused; concurrent appends never interleave;
the admin token guards it all."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kbcli.evaluate import load_golden
from kbcore.runtime import Runtime
from service.analytics.golden import DuplicateIdError, GoldenFile, GoldenFileError
from service.app import create_app
from tests.conftest import make_settings

TOKEN = "review-admin-token-01234"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def golden(tmp_path: Path) -> Path:
    path = tmp_path / "golden.jsonl"
    path.write_text('{"id": "ft1-01", "question": "q", "answerable": true}')  # no newline
    return path


@pytest.fixture()
def http(
    tmp_path: Path, content_runtime: Runtime, golden: Path, backend: dict[str, Any]
) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, admin_token=TOKEN, golden_file=golden, **backend)
    with TestClient(create_app(settings, runtime=content_runtime, sync_on_start=False)) as c:
        yield c


def ask(http: TestClient, message: str, rating: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = http.post("/v1/chat", json={"message": message}).json()
    if rating:
        feedback = {
            "conversation_id": body["conversation_id"],
            "message_id": body["message_id"],
            "rating": rating,
        }
        assert http.post("/v1/feedback", json=feedback).status_code == 201
    return body


def promote(http: TestClient, item_id: str, **choice: Any) -> Any:
    return http.post(f"/v1/admin/review/{item_id}/promote", json=choice, headers=AUTH)


def test_promote_appends_lines_kb_eval_reads(http: TestClient, golden: Path) -> None:
    thumbs = ask(http, "How much does fine-tuning cost?", "down")
    refused = ask(http, "What is the capital of Australia?")
    chosen = ask(http, "what is the maximum chunk size?")

    first = promote(http, thumbs["message_id"])  # default: the article its answer cited
    assert first.status_code == 201, first.text
    line = first.json()["line"]
    cited = thumbs["citations"][0]
    assert line == {
        "id": first.json()["id"],
        "question": "How much does fine-tuning cost?",
        "answerable": True,
        "article": cited["article"],
        "anchor": cited["anchor"],
        "facts": [],
        "follow_up_of": None,
    }
    assert first.json()["item"]["promoted_at"] and first.json()["item"]["reviewed_at"]

    off_topic = promote(http, refused["message_id"], unanswerable=True).json()["line"]
    assert off_topic["answerable"] is False and off_topic["article"] == ""

    picked = promote(
        http, chosen["message_id"], article="chunking-for-rag", facts=["256", " "]
    ).json()["line"]
    assert picked["article"] == "chunking-for-rag" and picked["anchor"]  # best section
    assert picked["facts"] == ["256"]

    lines = golden.read_text().splitlines()
    assert lines[0].startswith('{"id": "ft1-01"') and len(lines) == 4  # newline added
    loaded = load_golden(golden)
    assert [q["id"] for q in loaded[1:]] == [
        first.json()["id"],
        off_topic["id"],
        picked["id"],
    ]

    again = promote(http, thumbs["message_id"])
    assert again.status_code == 409 and again.json()["type"].endswith("/promoted")
    assert len(golden.read_text().splitlines()) == 4

    # The database keeps the promotions too (what replicas share): the same lines.
    exported = http.get("/v1/admin/golden", headers=AUTH)
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/jsonl")
    assert [json.loads(line) for line in exported.text.splitlines()] == [
        json.loads(line) for line in lines[1:]
    ]


def test_promotion_choices_must_exist_in_the_served_docs(http: TestClient, golden: Path) -> None:
    refused = ask(http, "What is the capital of Australia?")
    for choice, message in (
        ({"article": "no-such-article"}, "no article"),
        ({"article": "chunking-for-rag", "anchor": "nope"}, "no section"),
    ):
        response = promote(http, refused["message_id"], **choice)
        assert response.status_code == 422 and message in response.json()["detail"]
    assert promote(http, "m-unknown").status_code == 404
    assert promote(http, "../../etc/passwd").status_code in (404, 422)
    grounded = ask(http, "What is RAG?")  # answered, not rated: not in the queue
    assert promote(http, grounded["message_id"]).status_code == 404
    assert golden.read_text().count("\n") == 0  # nothing appended


def test_mark_reviewed_takes_a_turn_off_the_open_queue(http: TestClient) -> None:
    first = ask(http, "What is the capital of Australia?")
    second = ask(http, "What is the capital of France?")
    queue = http.get("/v1/admin/review", headers=AUTH).json()
    assert [i["id"] for i in queue["items"]] == [second["message_id"], first["message_id"]]
    done = http.post(f"/v1/admin/review/{first['message_id']}/reviewed", headers=AUTH)
    assert done.status_code == 200 and done.json()["reviewed_at"]
    open_now = http.get("/v1/admin/review", headers=AUTH).json()
    assert [i["id"] for i in open_now["items"]] == [second["message_id"]]
    reviewed = http.get("/v1/admin/review", params={"status": "reviewed"}, headers=AUTH).json()
    assert [i["id"] for i in reviewed["items"]] == [first["message_id"]]


def test_review_routes_need_the_admin_token(http: TestClient) -> None:
    refused = ask(http, "What is the capital of Australia?")
    for method, path in (
        ("GET", "/v1/admin/analytics"),
        ("GET", "/v1/admin/review"),
        ("POST", f"/v1/admin/review/{refused['message_id']}/reviewed"),
        ("POST", f"/v1/admin/review/{refused['message_id']}/promote"),
        ("GET", "/admin/panels"),
    ):
        assert http.request(method, path).status_code == 401, path
        wrong = {"Authorization": "Bearer wrong-token-0123456789"}
        assert http.request(method, path, headers=wrong).status_code == 403, path
    window = http.get("/v1/admin/analytics", params={"since": "yesterday"}, headers=AUTH)
    assert window.status_code == 422 and "7d" in window.json()["detail"]


def test_a_symlinked_golden_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.jsonl"
    target.write_text("")
    link = tmp_path / "golden.jsonl"
    link.symlink_to(target)
    with pytest.raises(GoldenFileError):
        GoldenFile(link).append({"id": "x"})
    assert target.read_text() == ""
    with pytest.raises(GoldenFileError, match=r"\.jsonl"):
        GoldenFile(tmp_path / "golden.txt").append({"id": "x"})
    with pytest.raises(GoldenFileError, match="does not exist"):
        GoldenFile(tmp_path / "missing" / "golden.jsonl").append({"id": "x"})


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "golden.jsonl"
    writers = [GoldenFile(path) for _ in range(4)]  # separate instances: flock serialises
    long_text = "x" * 20_000

    def append(n: int) -> None:
        writers[n % 4].append({"id": f"q-{n}", "question": long_text})

    threads = [threading.Thread(target=append, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = path.read_text().splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(f"q-{n}" for n in range(24))
    with pytest.raises(DuplicateIdError):
        writers[0].append({"id": "q-3"})
