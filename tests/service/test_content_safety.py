"""The content folder as a hostile or careless owner leaves it (issue #13, items 1, 7, 9
and 12), through the running service: secrets behind links never served, oversize
articles skipped with the reason, a deleted article no longer cited, a damaged index a
503 that says what to do."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import make_settings

SECRET = "kb-admin-secret-0123456789"


def page(title: str, body: str) -> str:
    return f"---\ntitle: {title}\ntags: [guides]\n---\n\n# {title}\n\n## Overview\n\n{body}\n"


def wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture()
def site(
    tmp_path: Path, embedder: OnnxMiniLM, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, Path]]:
    content = tmp_path / "content"
    content.mkdir()
    (content / "alpha.md").write_text(
        page("Chunking", "Chunking splits long documents into passages of a few sentences.")
    )
    (content / "beta.md").write_text(
        page("Embeddings", "Embeddings map each passage to a vector for similarity search.")
    )
    outside = tmp_path / "private.md"
    outside.write_text(page("Private", f"The deploy key is {SECRET}."))
    (content / "leak-env.md").symlink_to("/proc/self/environ")
    (content / "leak-file.md").symlink_to(outside)
    (content / "huge.md").write_text(page("Huge", "word " * (1024 * 1024)))  # ~5 MB
    monkeypatch.setenv("KB_ADMIN_TOKEN", SECRET)  # in this process's environment
    settings = make_settings(tmp_path, content_dir=content, canary_file=tmp_path / "none")
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    try:
        with TestClient(create_app(settings, runtime=runtime)) as http:
            wait_for(lambda: http.get("/readyz").status_code == 200)
            yield http, content
    finally:
        runtime.close()


def test_links_outside_the_content_folder_never_reach_a_visitor(
    site: tuple[TestClient, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Item 1: `ln -s /proc/self/environ content/leak-env.md` served the environment."""
    http, _ = site
    assert SECRET in os.environ["KB_ADMIN_TOKEN"]
    responses = [
        http.get("/learn/leak-env"),
        http.get("/learn/leak-env.md"),
        http.get("/learn/leak-file"),
        http.get("/learn/leak-file.md"),
        http.get("/"),
        http.get("/llms-full.txt"),
        http.get("/v1/articles"),
        http.get("/v1/search", params={"q": "deploy key KB_ADMIN_TOKEN environment"}),
        http.post("/v1/chat", json={"message": "What is the deploy key?"}),
        http.post("/v1/chat", json={"message": "What is KB_ADMIN_TOKEN?"}),
    ]
    for response in responses:
        assert SECRET not in response.text, response.url
        assert "KB_ADMIN_TOKEN=" not in response.text
    assert responses[0].status_code == responses[2].status_code == 404
    slugs = {a["slug"] for a in http.get("/v1/articles").json()["articles"]}
    assert slugs == {"alpha", "beta"}


def test_refused_links_and_oversize_articles_are_reported_with_the_reason(
    site: tuple[TestClient, Path],
) -> None:
    """Items 1 and 9: refused with a reason, never silently; a 5 MB article is skipped
    (KB_MAX_ARTICLE_BYTES, 2 MB by default) instead of taking minutes and memory."""
    http, _ = site
    state = http.app.state.kb  # type: ignore[attr-defined]
    report = next(iter(state.reindex._jobs.values())).report
    reasons = {s["path"]: " ".join(s["reasons"]) for s in report["skipped"]}
    assert "outside the content folder" in reasons["leak-env.md"]
    assert "outside the content folder" in reasons["leak-file.md"]
    assert "KB_MAX_ARTICLE_BYTES" in reasons["huge.md"] or "bytes" in reasons["huge.md"]
    assert http.get("/learn/huge").status_code == 404


def test_deleted_article_stops_being_cited_before_the_reindex(
    site: tuple[TestClient, Path],
) -> None:
    """Item 12: a deleted file stayed cited (a 404 link) until the next reindex."""
    http, content = site
    question = {"message": "How does chunking split long documents?"}
    before = http.post("/v1/chat", json=question).json()
    assert before["grounded"] and before["citations"][0]["article"] == "alpha"
    version = before["index_version"]
    (content / "alpha.md").unlink()
    after = http.post("/v1/chat", json=question).json()
    assert all(c["article"] != "alpha" for c in after["citations"])
    assert all(s["article"] != "alpha" for s in after["suggestions"])
    hits = http.get("/v1/search", params={"q": "chunking long documents"}).json()["hits"]
    assert all(h["article"] != "alpha" for h in hits)
    # ...and the service noticed: a reindex drops the article from the index.
    wait_for(lambda: http.get("/readyz").json().get("index_version") != version)
    slugs = {a["slug"] for a in http.get("/v1/articles").json()["articles"]}
    assert slugs == {"beta"}


def test_damaged_index_is_a_503_naming_the_file_and_the_remedy(
    site: tuple[TestClient, Path], tmp_path: Path
) -> None:
    """Item 7: a damaged index file gave a raw JSONDecodeError and a traceback."""
    http, _ = site
    state = http.app.state.kb  # type: ignore[attr-defined]
    store = state.runtime.store
    version = store.serving()
    manifest = store.root / "versions" / version / "manifest.json"
    manifest.write_text("{not json")
    pointer = store.root / "SERVING"
    pointer.write_text("20990101t000000-missing\n")
    for response in (
        http.get("/readyz"),
        http.get("/v1/search", params={"q": "chunking"}),
        http.post("/v1/chat", json={"message": "what is chunking?"}),
        http.get("/v1/articles"),
    ):
        assert response.status_code == 503, response.url
        problem = response.json()
        assert problem["type"].endswith("/index-corrupt")
        assert "SERVING" in problem["detail"] and "kb ingest --rebuild" in problem["detail"]
        assert "Traceback" not in response.text
    pointer.write_text(version + "\n")
    ready = http.get("/readyz")
    assert ready.status_code == 503 and "manifest.json" in ready.json()["detail"]
    assert "kb ingest --rebuild" in ready.json()["detail"]
