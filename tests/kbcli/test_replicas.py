"""Two `kb serve` processes behind a round-robin balancer, sharing one real PostgreSQL
server, each with its own data folder and embedded index (issue #24): questions, feedback
and the review queue are shared; a content change and an admin reindex reach both; a
replica killed mid-load loses no logged turn while the other keeps answering; a replica
restarted on a fresh data folder keeps all history."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import eventually, reindexes
from tests.kbcli.conftest import ARTICLE
from tests.replicas import AUTH, Replica, ReplicaSet, replica_env

QUESTIONS = [
    "how do I split long documents before embedding them?",
    "what size should my passages be for retrieval?",
    "do passages need to overlap?",
    "how do I pick an embedding model?",
    "what does the reranker do after vector search?",
]


def write_content(content: Path) -> None:
    content.mkdir()
    (content / "chunking.md").write_text(
        ARTICLE.format(
            title="Chunking",
            body="Chunking splits long documents into passages of 200 to 400 tokens before "
            "they are embedded. Passages overlap by 10 to 20 percent so that a sentence "
            "cut at a boundary still appears whole in one of them.",
        )
    )
    (content / "retrieval.md").write_text(
        ARTICLE.format(
            title="Retrieval",
            body="Pick an embedding model that was trained on text like your documents. "
            "After vector search, a reranker reorders the best passages by reading the "
            "question and each passage together.",
        )
    )


def ask(base: str, question: str) -> dict[str, Any]:
    """One question on a fresh connection (so the balancer picks the next replica)."""
    with httpx.Client(base_url=base, timeout=60) as client:
        response = client.post("/v1/chat", json={"message": question})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def logged_ids(database_url: str) -> set[str]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.exec_driver_sql("SELECT id FROM turns")}
    finally:
        engine.dispose()


def totals(replica: Replica) -> dict[str, int]:
    report = replica.get("/v1/admin/analytics", since="1d")
    result: dict[str, int] = report["totals"]
    return result


def reindexed(replica: Replica, trigger: str) -> float:
    return reindexes(httpx.get(f"{replica.url}/metrics", timeout=30).text, trigger)


@pytest.mark.timeout(900)
def test_two_replicas_behind_a_balancer_share_everything(tmp_path: Path, database_url: str) -> None:
    content = tmp_path / "content"
    write_content(content)
    env = replica_env(content, database_url)
    with ReplicaSet(env, tmp_path) as replicas:
        first, second = replicas[0], replicas[1]
        lb = replicas.balancer.url

        # Questions through the balancer reach both; each replica's analytics has all.
        answers = [ask(lb, q) for q in QUESTIONS * 2]
        assert all(a["grounded"] for a in answers)
        assert all(n >= 4 for n in replicas.balancer.counts.values()), replicas.balancer.counts
        for replica in replicas.replicas:
            assert totals(replica)["questions"] == len(answers)

        # Feedback sent to one replica is on the other's review queue.
        rated = answers[1]
        feedback = {
            "conversation_id": rated["conversation_id"],
            "message_id": rated["message_id"],
            "rating": "down",
            "comment": "too vague",
        }
        assert httpx.post(f"{first.url}/v1/feedback", json=feedback).status_code == 201
        queue = second.get("/v1/admin/review", status="open")
        assert [item["id"] for item in queue["items"]] == [rated["message_id"]]
        listed = second.get("/v1/admin/feedback")
        assert listed["total"] == 1 and listed["items"][0]["comment"] == "too vague"

        # Promoted on one, the golden set of the other has it (a second click: 409).
        promoted = httpx.post(
            f"{second.url}/v1/admin/review/{rated['message_id']}/promote",
            json={},
            headers=AUTH,
        )
        assert promoted.status_code == 201, promoted.text
        again = httpx.post(
            f"{first.url}/v1/admin/review/{rated['message_id']}/promote",
            json={},
            headers=AUTH,
        )
        assert again.status_code == 409
        golden = httpx.get(f"{first.url}/v1/admin/golden", headers=AUTH)
        assert golden.status_code == 200 and promoted.json()["id"] in golden.text

        # A content change reaches both: each rebuilds and answers from the new page.
        before = {r.name: r.get("/readyz")["index_version"] for r in replicas.replicas}
        (content / "pricing.md").write_text(
            ARTICLE.format(
                title="Hosting",
                body="Hosting the service on the small plan costs 37 euros a month.",
            )
        )
        for replica in replicas.replicas:
            eventually(
                lambda r=replica: r.get("/readyz")["index_version"] != before[r.name],
                what=f"{replica.name} serves the new content",
            )
            fresh = ask(replica.url, "how much is hosting on the small plan per month?")
            assert fresh["grounded"] and "37" in fresh["answer"]
        versions = {r.name: r.get("/readyz")["index_version"] for r in replicas.replicas}

        # An admin reindex on one replica is broadcast: the other rebuilds too.
        started = httpx.post(f"{first.url}/v1/admin/reindex", json={"rebuild": True}, headers=AUTH)
        assert started.status_code == 202, started.text
        eventually(lambda: reindexed(second, "broadcast") >= 1, what="broadcast reindex")
        assert reindexed(first, "broadcast") == 0  # the asker is not asked again
        for replica in replicas.replicas:
            eventually(
                lambda r=replica: r.get("/readyz")["index_version"] != versions[r.name],
                what=f"{replica.name} rebuilt",
            )
        seen = second.get("/v1/admin/replicas")
        assert len(seen["replicas"]) == 2 and seen["this"] in {r["id"] for r in seen["replicas"]}

        # kill -9 of one replica under load: the other keeps answering through the
        # balancer, and every answered question is in the log.
        answered: list[str] = []
        failed: list[str] = []
        stop = threading.Event()
        lock = threading.Lock()

        def load(worker: int) -> None:
            n = 0
            while not stop.is_set():
                question = f"{QUESTIONS[n % len(QUESTIONS)]} (client {worker}, {n})"
                n += 1
                try:
                    with httpx.Client(base_url=lb, timeout=60) as client:
                        response = client.post("/v1/chat", json={"message": question})
                    ok = response.status_code == 200
                    body = response.json() if ok else {}
                except (httpx.HTTPError, ValueError) as exc:
                    ok, body = False, {"error": f"{time.monotonic() - began:.3f} s: {exc}"}
                with lock:
                    (answered if ok else failed).append(body.get("message_id") or str(body))

        began = time.monotonic()
        clients = [threading.Thread(target=load, args=(w,)) for w in range(4)]
        for client in clients:
            client.start()
        eventually(lambda: len(answered) >= 20, what="load before the kill")
        killed_at = time.monotonic() - began
        first.kill()
        at_kill = len(answered)
        eventually(lambda: len(answered) >= at_kill + 20, what="answers after the kill")
        stop.set()
        for client in clients:
            client.join(60)
        # at most the requests in flight on the killed one
        assert len(failed) <= 4, (killed_at, failed, replicas.balancer.failed_connects)
        lost = set(answered) - logged_ids(database_url)
        assert lost == set(), f"{len(lost)} answered turns are not in the log"

        # A replica restarted on a fresh data folder keeps all history.
        everything = totals(second)["questions"]
        logged = len(answers) + 2 + len(answered)  # (a failed one may have been logged too)
        assert logged <= everything <= logged + len(failed)
        first.data_dir = tmp_path / "fresh-data"
        first.start()
        assert totals(first)["questions"] == everything
        assert first.get("/v1/admin/review", status="all")["total"] >= 1
