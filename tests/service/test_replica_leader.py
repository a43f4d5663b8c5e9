"""Replicas sharing one index (a Qdrant server; here qdrant-client's local mode, shared
by two apps in one process, stands in for it) and one PostgreSQL database: exactly one
builds, the others serve what the alias names; a reindex asked of a follower is done by
the leader; when the leader's session dies another replica takes over and brings the
index up to date."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.runtime import Runtime
from kbcore.store import open_local_qdrant
from service.app import create_app
from service.replicas import LEADER_LOCK
from tests.conftest import ROOT, eventually, make_settings, reindexes
from tests.kbcli.conftest import ARTICLE, kb

TOKEN = "leader-admin-token-0123456"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def reindexed(http: TestClient, trigger: str) -> float:
    return reindexes(http.get("/metrics").text, trigger)


def ready(http: TestClient) -> dict[str, Any]:
    response = http.get("/readyz")
    body: dict[str, Any] = response.json() if response.status_code == 200 else {}
    return body


def test_one_replica_builds_a_shared_index_and_another_takes_over(
    tmp_path: Path, embedder: OnnxMiniLM, database_url: str
) -> None:
    content = tmp_path / "content"
    content.mkdir()
    (content / "chunking.md").write_text(
        ARTICLE.format(title="Chunking", body="Chunking splits documents into passages.")
    )
    store = open_local_qdrant("kb")  # one index for both, as a Qdrant server would be

    def app(name: str) -> TestClient:
        settings = make_settings(
            tmp_path / name,
            content_dir=content,
            database_url=database_url,
            qdrant_url="http://qdrant.invalid:6333",  # a shared index (the store is given)
            admin_token=TOKEN,
            replica_poll_s=0.2,
        )
        runtime = Runtime.open(settings, embedder=embedder, store=store)
        return TestClient(create_app(settings, runtime=runtime))

    try:
        with app("a") as a:
            eventually(lambda: ready(a).get("status") == "ready", what="the leader built")
            assert ready(a)["replica"]["builds_index"] is True
            with app("b") as b:
                eventually(lambda: ready(b).get("status") == "ready", what="b serves")
                assert ready(b)["replica"]["builds_index"] is False
                assert ready(b)["index_version"] == ready(a)["index_version"]
                assert b.app.state.kb.reindex is None  # type: ignore[attr-defined]
                assert "kb_builds_index 1.0" in a.get("/metrics").text
                assert "kb_builds_index 0.0" in b.get("/metrics").text

                # A reindex asked of the follower is done by the leader.
                before = ready(a)["index_version"]
                asked = b.post("/v1/admin/reindex", json={"rebuild": True}, headers=AUTH)
                assert asked.status_code == 202 and asked.json()["status"] == "forwarded"
                eventually(lambda: reindexed(a, "broadcast") == 1, what="the leader rebuilt")
                eventually(lambda: ready(b)["index_version"] != before, what="b follows")
                assert ready(b)["index_version"] == ready(a)["index_version"]
                assert b.app.state.kb.reindex is None  # type: ignore[attr-defined]
                listed = a.get("/v1/admin/replicas", headers=AUTH).json()["replicas"]
                assert sorted(r["leader"] for r in listed) == [False, True]

                # A one-off `kb ingest` job is refused while a replica leads (it would
                # build beside it); it names what to do instead.
                job = kb(
                    ["ingest"],
                    {
                        **os.environ,
                        "PYTHONPATH": str(ROOT),
                        "KB_CONTENT_DIR": str(content),
                        "KB_DATA_DIR": str(tmp_path / "job"),
                        "KB_QDRANT_URL": "http://qdrant.invalid:6333",
                        "KB_DATABASE_URL": database_url,
                    },
                )
                assert job.returncode != 0 and "a serving replica leads" in job.stderr

                # The leader's session dies: b takes the lock and brings the index up to
                # date; a notices it lost the lock and stops building.
                (content / "lora.md").write_text(
                    ARTICLE.format(title="LoRA", body="LoRA trains small adapter matrices.")
                )
                engine = sa.create_engine(database_url)
                with engine.connect() as connection:
                    killed = connection.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_locks "
                            "WHERE locktype = 'advisory' AND objid = :key AND granted"
                        ),
                        {"key": LEADER_LOCK},
                    ).all()
                engine.dispose()
                assert killed == [(True,)]
                eventually(lambda: ready(b)["replica"]["builds_index"], what="b leads")
                eventually(lambda: reindexed(b, "leader") == 1, what="b brought it up to date")
                eventually(lambda: not ready(a)["replica"]["builds_index"], what="a follows")
                answer = b.post("/v1/chat", json={"message": "What does LoRA train?"}).json()
                assert answer["grounded"] and "adapter" in answer["answer"]
                leaders = [
                    r["leader"]
                    for r in b.get("/v1/admin/replicas", headers=AUTH).json()["replicas"]
                ]
                eventually(
                    lambda: (
                        sorted(
                            r["leader"]
                            for r in b.get("/v1/admin/replicas", headers=AUTH).json()["replicas"]
                        )
                        == [False, True]
                    ),
                    what="one leader listed",
                )
                assert len(leaders) == 2
    finally:
        store.close()
