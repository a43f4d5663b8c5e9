"""Probes, search and article routes through real HTTP (FastAPI's test client)."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import make_settings
from tests.ingest.test_build import write


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["index_version"]


def test_ready_only_after_start_up_sync(tmp_path: Path, embedder: OnnxMiniLM) -> None:
    content = tmp_path / "content"
    write(content, "alpha")
    settings = make_settings(tmp_path, content_dir=content)
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    app = create_app(settings, runtime=runtime)
    with TestClient(app) as http:
        deadline = time.monotonic() + 60
        statuses = []
        while time.monotonic() < deadline:
            response = http.get("/readyz")
            statuses.append(response.status_code)
            if response.status_code == 200:
                break
            assert response.headers["content-type"] == "application/problem+json"
            assert "retry-after" in response.headers
            time.sleep(0.05)
        assert statuses[-1] == 200
        assert (
            http.get("/v1/search", params={"q": "hybrid search"}).json()["hits"][0]["article"]
            == "alpha"
        )


def test_search_returns_ranked_sections(client: TestClient) -> None:
    body = client.get("/v1/search", params={"q": "how much does fine-tuning cost", "k": 3}).json()
    assert len(body["hits"]) == 3 and body["index_version"]
    top = body["hits"][0]
    assert top["article"] == "fine-tuning-cost"
    assert top["url"] == f"/learn/fine-tuning-cost#{top['anchor']}"
    assert top["text"] and top["score"] > 0


def test_search_tag_filter(client: TestClient) -> None:
    body = client.get("/v1/search", params=[("q", "chunk size"), ("tag", "prompting")]).json()
    assert all(h["article"] not in {"chunking-for-rag"} for h in body["hits"])


def test_articles_list_and_detail(client: TestClient) -> None:
    listed = client.get("/v1/articles").json()["articles"]
    assert len(listed) == 18
    assert {"slug", "title", "summary", "tags", "updated", "url"} <= listed[0].keys()
    detail = client.get("/v1/articles/fine-tuning-cost").json()
    anchors = [h["anchor"] for h in detail["headings"]]
    assert "how-much-does-fine-tuning-cost" in anchors and "faq" in anchors
    assert detail["headings"][0]["url"].startswith("/learn/fine-tuning-cost#")
    missing = client.get("/v1/articles/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["status"] == 404 and "nope" in missing.json()["detail"]
