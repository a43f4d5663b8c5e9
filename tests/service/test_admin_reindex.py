"""Admin reindex over HTTP: auth table, jobs, and zero-downtime under concurrent load."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from ingest.runner import ingest
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import CONTENT, make_settings
from tests.ingest.test_build import write
from tests.stubs.openai_stub import free_port

TOKEN = "s3cret-admin-token"


@pytest.fixture()
def small_app(tmp_path: Path, embedder: OnnxMiniLM) -> Iterator[tuple[TestClient, Path]]:
    content = tmp_path / "content"
    write(content, "alpha", first="Chunking splits long documents into passages.")
    settings = make_settings(tmp_path, content_dir=content, admin_token=TOKEN)
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    with TestClient(create_app(settings, runtime=runtime)) as http:
        deadline = time.monotonic() + 60
        while http.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield http, content


@pytest.mark.parametrize(
    ("configured", "header", "status"),
    [
        (None, f"Bearer {TOKEN}", 404),
        (TOKEN, None, 401),
        (TOKEN, "Basic abc", 401),
        (TOKEN, "Bearer wrong-token", 403),
        (TOKEN, f"Bearer {TOKEN}x", 403),
        (TOKEN, f"Bearer {TOKEN}", 202),
    ],
)
def test_admin_auth_table(
    tmp_path: Path,
    content_runtime: Runtime,
    configured: str | None,
    header: str | None,
    status: int,
) -> None:
    settings = make_settings(tmp_path, admin_token=configured)
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    headers = {"Authorization": header} if header else {}
    with TestClient(app) as http:
        response = http.post("/v1/admin/reindex", json={"dry_run": True}, headers=headers)
        assert response.status_code == status, response.text
        if status == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")
        if status != 202:
            assert response.headers["content-type"] == "application/problem+json"
            assert TOKEN not in response.text
        else:
            app.state.kb.jobs().wait_idle(60)


def test_reindex_job_reports_progress_and_diff(small_app: tuple[TestClient, Path]) -> None:
    http, content = small_app
    auth = {"Authorization": f"Bearer {TOKEN}"}
    write(content, "alpha", first="Chunking now follows Markdown headings.")
    write(content, "beta", first="Embeddings map text to vectors.")
    started = http.post("/v1/admin/reindex", headers=auth)
    assert started.status_code == 202
    job_id = started.json()["id"]
    assert started.headers["location"] == f"/v1/admin/reindex/{job_id}"
    second = http.post("/v1/admin/reindex", headers=auth)
    if second.status_code == 409:  # the first one is still running
        assert second.json()["running"] == job_id
    else:
        assert second.status_code == 202
    job: dict[str, object] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = http.get(f"/v1/admin/reindex/{job_id}", headers=auth).json()
        if job["status"] != "running":
            break
        time.sleep(0.05)
    assert job["status"] == "succeeded", job
    report = job["report"]
    assert isinstance(report, dict)
    assert report["diff"]["alpha"]["changed"] == ["first-topic"]
    assert report["diff"]["beta"]["added"] == ["(overview)", "first-topic", "second-topic"]
    assert job["progress"] == {"embedded": report["embedded"], "to_embed": report["embedded"]}
    hits = http.get("/v1/search", params={"q": "vectors embeddings"}).json()
    assert hits["index_version"] == report["index_version"]
    assert http.get("/v1/admin/reindex/nope", headers=auth).status_code == 404


def test_concurrent_clients_see_no_errors_during_rebuild_and_switch(
    tmp_path: Path, embedder: OnnxMiniLM
) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    settings = make_settings(tmp_path, content_dir=content, admin_token=TOKEN)
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    app = create_app(settings, runtime=runtime)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.1)
        questions = [
            "How much does fine-tuning cost?",
            "what is reciprocal rank fusion",
            "how many examples in a few-shot prompt",
            "what is prompt injection",
        ]
        failures: list[str] = []
        versions: set[str] = set()
        stop = threading.Event()
        counts = [0]

        def client(n: int) -> None:
            with httpx.Client(base_url=base, timeout=60) as http:
                i = 0
                while not stop.is_set():
                    question = questions[(n + i) % len(questions)]
                    if (n + i) % 2:
                        r = http.get("/v1/search", params={"q": question})
                        ok = r.status_code == 200 and bool(r.json()["hits"])
                    else:
                        r = http.post("/v1/chat", json={"message": question})
                        ok = r.status_code == 200 and bool(r.json()["citations"])
                    if not ok:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    else:
                        versions.add(r.json()["index_version"])
                    counts[0] += 1
                    i += 1

        workers = [threading.Thread(target=client, args=(n,)) for n in range(20)]
        for worker in workers:
            worker.start()
        time.sleep(1.0)
        article = content / "fine-tuning-cost.md"
        article.write_text(article.read_text().replace("hidden cost", "concealed cost"))
        auth = {"Authorization": f"Bearer {TOKEN}"}
        job = httpx.post(f"{base}/v1/admin/reindex", headers=auth).json()
        while job["status"] == "running":
            time.sleep(0.2)
            job = httpx.get(f"{base}/v1/admin/reindex/{job['id']}", headers=auth).json()
        time.sleep(1.0)
        stop.set()
        for worker in workers:
            worker.join(timeout=120)
        assert job["status"] == "succeeded", job
        assert failures == []
        assert counts[0] > 40
        assert len(versions) == 2  # requests were answered by both versions, none failed
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _serve(app: object) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def test_kb_ingest_server_asks_the_running_service(tmp_path: Path, embedder: OnnxMiniLM) -> None:
    import json
    import os
    import subprocess
    import sys

    content = tmp_path / "content"
    write(content, "alpha", first="Chunking splits long documents into passages.")
    settings = make_settings(tmp_path, content_dir=content, admin_token=TOKEN)
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    server, thread, base = _serve(create_app(settings, runtime=runtime))
    try:
        while httpx.get(f"{base}/readyz").status_code != 200:
            time.sleep(0.05)
        write(content, "beta", first="Embeddings map text to vectors.")
        env = {
            **os.environ,
            "KB_ADMIN_TOKEN": TOKEN,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        }
        result = subprocess.run(
            [sys.executable, "-m", "kbcli.main", "ingest", "--server", base, "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["articles"] == 2 and report["switched"] and report["embedded"] == 3
        wrong = subprocess.run(
            [sys.executable, "-m", "kbcli.main", "ingest", "--server", base],
            env={**env, "KB_ADMIN_TOKEN": "x" * 20},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert wrong.returncode == 2 and "403" in wrong.stderr and "Traceback" not in wrong.stderr
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_watch_reindexes_when_an_article_changes(tmp_path: Path, embedder: OnnxMiniLM) -> None:
    content = tmp_path / "content"
    write(content, "alpha", first="Chunking splits long documents into passages.")
    settings = make_settings(tmp_path, content_dir=content, watch_debounce_ms=100)
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    with TestClient(create_app(settings, runtime=runtime, watch=True)) as http:
        deadline = time.monotonic() + 60
        while http.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        before = http.get("/v1/search", params={"q": "vectors"}).json()["index_version"]
        time.sleep(0.5)  # let the watcher start
        write(content, "beta", first="Embeddings map text to vectors.")
        deadline = time.monotonic() + 60
        while True:
            body = http.get("/v1/search", params={"q": "vectors embeddings"}).json()
            if body["index_version"] != before:
                break
            assert time.monotonic() < deadline, "the watcher never reindexed"
            time.sleep(0.1)
        assert body["hits"][0]["article"] == "beta"


def test_readiness_recovers_after_a_failed_start_and_names_no_path(
    tmp_path: Path, embedder: OnnxMiniLM
) -> None:
    content = tmp_path / "content"
    write(content, "alpha", first="Chunking splits long documents into passages.")
    settings = make_settings(tmp_path, content_dir=content, admin_token=TOKEN)
    runtime = Runtime.open(settings, embedder=embedder)
    ingest(runtime)
    pointer = next(settings.data_dir.rglob("SERVING"))
    pointer.write_text("20990101t000000-missing\n")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(settings, runtime=runtime), raise_server_exceptions=False) as http:
        deadline = time.monotonic() + 60
        while http.app.state.kb.startup_error is None:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline, "the start did not fail"
            time.sleep(0.05)
        failed = http.get("/readyz")
        assert failed.status_code == 503
        assert str(tmp_path) not in failed.text and "kb ingest --rebuild" in failed.text
        started = http.post("/v1/admin/reindex", json={"rebuild": True}, headers=auth)
        assert started.status_code == 202
        while http.get("/readyz").status_code != 200:  # no restart needed
            assert time.monotonic() < deadline + 60, http.get("/readyz").text
            time.sleep(0.05)
        assert http.get("/v1/search", params={"q": "chunking passages"}).json()["hits"]
