"""``/llms.txt``, ``/llms-full.txt`` and ``/learn/{slug}.md``: valid for the reference parser
(``llms-txt``), true to the source files (as their pages read: generator syntax resolved,
links absolute), cached per index version and rebuilt after a switch; and the demo page's
"Add to your editor" snippet."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from llms_txt import parse_llms_file

from ingest.runner import ingest
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import CONTENT, make_settings

BASE = "https://kb.example.com"


@pytest.fixture(scope="module")
def http(
    content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings = make_settings(
        tmp_path_factory.mktemp("llms"), public_base_url=BASE, name="Fine-tuning and RAG guides"
    )
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with TestClient(app) as client:
        yield client


def source_body(path: Path) -> str:
    """A file without its YAML front matter and with its links to the (demo) site absolute,
    read independently of the service: content/ is plain Markdown, which reads back as
    written."""
    text = path.read_text().replace("](/learn/", f"]({BASE}/learn/")
    return text.split("\n---\n", 1)[1].strip("\n") + "\n"


def articles() -> dict[str, Path]:
    return {p.stem: p for p in CONTENT.glob("*.md") if p.stem != "README"}


def test_llms_txt_parses_with_the_reference_parser(http: TestClient) -> None:
    response = http.get("/llms.txt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    parsed = parse_llms_file(response.text)
    assert parsed.title == "Fine-tuning and RAG guides"
    assert "18 articles" in parsed.summary
    assert f"{BASE}/mcp" in parsed.info and f"{BASE}/v1/chat/completions" in parsed.info
    assert list(parsed.sections) == ["fine-tuning", "prompting", "rag"]  # most articles first
    links = [link for section in parsed.sections.values() for link in section]
    assert sorted(link.url for link in links) == sorted(
        f"{BASE}/learn/{slug}.md" for slug in articles()
    )
    cost = next(link for link in links if link.url.endswith("/fine-tuning-cost.md"))
    assert cost.title == "How Much Does Fine-Tuning Cost?"
    assert cost.desc.startswith("What a fine-tuning project really costs")
    for link in parsed.sections["rag"]:  # each under its first tag
        slug = link.url.rsplit("/", 1)[1].removesuffix(".md")
        assert "tags: [rag," in articles()[slug].read_text()


def test_every_link_is_the_articles_markdown(http: TestClient) -> None:
    parsed = parse_llms_file(http.get("/llms.txt").text)
    for link in (link for section in parsed.sections.values() for link in section):
        response = http.get(link.url.removeprefix(BASE))
        assert response.status_code == 200, link.url
        assert response.headers["content-type"] == "text/markdown; charset=utf-8"
        slug = link.url.rsplit("/", 1)[1].removesuffix(".md")
        body = source_body(articles()[slug])
        assert response.text in (body, f"# {link.title}\n\n{body}")
        assert not response.text.startswith("---")


def test_llms_full_holds_every_article_with_its_source_url(http: TestClient) -> None:
    response = http.get("/llms-full.txt")
    assert response.status_code == 200
    text = response.text
    assert text.startswith("# Fine-tuning and RAG guides\n\n> All 18 articles")
    for slug, path in articles().items():
        source = f"Source: {BASE}/learn/{slug}\n\n"
        assert text.count(source) == 1, slug
        body = source_body(path)
        assert source + body.split("\n", 1)[1].lstrip("\n") in text or source + body in text
    assert "\n---\n" not in text.split("Source:", 1)[1].split("\n# ", 1)[0]


def test_files_are_cached_with_etags(http: TestClient) -> None:
    for path in ("/llms.txt", "/llms-full.txt", "/learn/fine-tuning-cost.md"):
        first = http.get(path)
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "no-cache"
        again = http.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert http.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_unknown_article_markdown_is_a_404_problem(http: TestClient) -> None:
    response = http.get("/learn/no-such-article.md")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert http.get("/learn/fine-tuning-cost").headers["content-type"].startswith("text/html")


ALPHA = """---
title: Alpha [beta] guide
tags: [guides]
summary: |
  Alpha explains chunking,
  over two lines.
---

Alpha splits long documents into passages before they are embedded.

## Sizes

Passages of a few hundred tokens work well for retrieval.
"""
NESTED = """+++
title = "Nested page"
+++

# Nested page

Nested pages live in folders and keep their folder in the slug.
"""
ADDED = """# Added later

Added articles appear in llms.txt after the next index switch.
"""


@pytest.fixture()
def own_index(tmp_path: Path, embedder: OnnxMiniLM) -> Iterator[tuple[Runtime, Path]]:
    content = tmp_path / "content"
    (content / "guide").mkdir(parents=True)
    (content / "alpha.md").write_text(ALPHA)
    (content / "guide" / "nested.md").write_text(NESTED)
    settings = make_settings(tmp_path, content_dir=content, canary_questions=0)
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    assert ingest(runtime).switched
    yield runtime, content
    runtime.close()


def test_files_are_rebuilt_after_each_index_switch(own_index: tuple[Runtime, Path]) -> None:
    runtime, content = own_index
    app = create_app(runtime.settings, runtime=runtime, sync_on_start=False)
    with TestClient(app) as http:
        before = http.get("/llms.txt")
        parsed = parse_llms_file(before.text)
        urls = {link.url for section in parsed.sections.values() for link in section}
        assert urls == {
            "http://127.0.0.1:8000/learn/alpha.md",
            "http://127.0.0.1:8000/learn/guide/nested.md",
        }
        alpha = parsed.sections["guides"][0]
        assert alpha.title == "Alpha (beta) guide"  # brackets would end the link text
        assert alpha.desc == "Alpha explains chunking, over two lines."

        assert http.get("/learn/guide/nested.md").text == NESTED.split("+++\n", 2)[2].lstrip("\n")
        assert http.get("/learn/alpha.md").text.startswith("# Alpha [beta] guide\n\nAlpha splits")

        (content / "added.md").write_text(ADDED)
        assert ingest(runtime).switched
        after = http.get("/llms.txt")
        assert after.headers["etag"] != before.headers["etag"]
        assert "http://127.0.0.1:8000/learn/added.md" in after.text
        assert (
            "# Added later\n\nSource: http://127.0.0.1:8000/learn/added\n"
            in http.get("/llms-full.txt").text
        )


def test_demo_page_shows_the_add_to_your_editor_snippet(
    content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for token in (None, "mcp-token-0123456789abcdef"):
        settings = make_settings(
            tmp_path_factory.mktemp("demo"), public_base_url=BASE, mcp_token=token
        )
        app = create_app(settings, runtime=content_runtime, sync_on_start=False)
        with TestClient(app) as client:
            html = client.get("/").text
        assert "Add to your editor" in html
        command = re.search(r"<pre><code>(claude mcp add[^<]*)</code></pre>", html)
        assert command is not None
        configs = re.findall(r"<pre><code>(\{.*?\})</code></pre>", html, re.S)
        vscode, cursor = (json.loads(c.replace("&quot;", '"')) for c in configs)
        assert vscode["servers"]["kb"]["url"] == cursor["mcpServers"]["kb"]["url"] == f"{BASE}/mcp"
        if token is None:
            assert command.group(1) == f"claude mcp add --transport http kb {BASE}/mcp"
        else:
            assert token not in html
            assert "$KB_MCP_TOKEN" in command.group(1)
            assert vscode["servers"]["kb"]["headers"]["Authorization"] == "Bearer ${input:kb-token}"
