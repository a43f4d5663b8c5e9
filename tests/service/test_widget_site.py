"""`GET /widget.js` (caching, type, size, no remote loads) and the demo site: `/` embeds
the widget with one tag, `/learn/{slug}` renders each article with the index's anchors
and shows raw HTML as text."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.articles import load_article
from kbcore.runtime import Runtime
from service.app import create_app
from service.widget.router import WIDGET_PATH
from tests.conftest import make_settings

WIDGET = WIDGET_PATH.read_bytes()
MAX_GZIPPED = 30 * 1024


class Tags(HTMLParser):
    """Collects start tags with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def heading_ids(html: str) -> list[str]:
    return [
        str(attrs["id"])
        for tag, attrs in tags_of(html)
        if re.fullmatch(r"h[2-6]", tag) and attrs.get("id") is not None
    ]


# --- /widget.js -------------------------------------------------------------------------


def test_widget_js_has_type_cache_headers_and_a_strong_etag(client: TestClient) -> None:
    response = client.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in response.headers
    etag = response.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong: no W/ prefix
    assert etag.strip('"') == hashlib.sha256(WIDGET).hexdigest()[:32]
    assert response.content == WIDGET

    for offered in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        cached = client.get(
            "/widget.js", headers={"If-None-Match": offered, "Accept-Encoding": "identity"}
        )
        assert cached.status_code == 304 and cached.content == b""
        assert cached.headers["etag"] == etag
    stale = client.get(
        "/widget.js", headers={"If-None-Match": '"stale"', "Accept-Encoding": "identity"}
    )
    assert stale.status_code == 200 and stale.content == WIDGET


def test_widget_js_is_served_gzipped_to_clients_that_accept_it(client: TestClient) -> None:
    response = client.get("/widget.js", headers={"Accept-Encoding": "gzip, br"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == WIDGET  # httpx decodes it
    assert response.headers["etag"].endswith('-gz"')
    assert "Accept-Encoding" in response.headers["vary"]
    refused = client.get("/widget.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    head = client.head("/widget.js")
    assert head.status_code == 200 and head.headers["etag"]


def test_widget_js_is_small_and_loads_nothing_remote() -> None:
    gzipped = len(gzip.compress(WIDGET, compresslevel=9))
    assert gzipped <= MAX_GZIPPED, f"widget.js is {gzipped} bytes gzipped"
    source = WIDGET.decode()
    urls = set(re.findall(r"https?://[^\s\"'`)]+", source))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls  # an XML namespace, never fetched
    for forbidden in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "import(",
        "@import",
        "url(",
        "<img",
    ):
        assert forbidden not in source, forbidden
    assert set(re.findall(r"window\.(\w+)\s*=[^=]", source)) == {"KBWidget"}


# --- the demo site ------------------------------------------------------------------------


def test_demo_page_embeds_the_widget_with_one_tag_and_lists_articles(
    client: TestClient,
) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    scripts = [attrs for tag, attrs in tags_of(html) if tag == "script"]
    assert len(scripts) == 1
    (script,) = scripts
    # Without KB_PUBLIC_BASE_URL the page loads the widget from itself, by relative URL.
    assert script["src"] == "/widget.js" and "data-kb-url" not in script
    assert "defer" in script and script["data-title"] and script["data-accent"]
    articles = client.get("/v1/articles").json()["articles"]
    for article in articles:
        assert f'href="/learn/{article["slug"]}"' in html
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp and "frame-ancestors 'none'" in csp
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp


def test_host_header_never_reaches_a_page_or_its_policy(client: TestClient) -> None:
    """Issue #13, item 8: with KB_PUBLIC_BASE_URL unset, `Host: evil.example` made the demo
    page load http://evil.example/widget.js, and its CSP allowed it."""
    for path in ("/", "/learn/fine-tuning-cost"):
        response = client.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 200
        assert "evil.example" not in response.text
        csp = response.headers["content-security-policy"]
        assert "evil.example" not in csp and "script-src 'self';" in csp
    # Absolute links elsewhere (llms.txt, OpenAI-compatible answers) name the bind address.
    llms = client.get("/llms.txt", headers={"Host": "evil.example"}).text
    assert "evil.example" not in llms and "http://127.0.0.1:8000/learn/" in llms
    answer = client.post(
        "/v1/chat/completions",
        json={"model": "kb", "messages": [{"role": "user", "content": "what is rag?"}]},
        headers={"Host": "evil.example"},
    ).json()
    assert "evil.example" not in json.dumps(answer)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_pages_have_the_site_headers_and_local_assets(
    client: TestClient, path: str
) -> None:
    """Issue #13, item 8: /docs and /redoc had no CSP and loaded scripts from a CDN."""
    response = client.get(path)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "'unsafe-eval'" not in csp and "script-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    sources = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert sources and all(src.startswith("/") for src in sources), sources
    for src in sources:
        asset = client.get(src)
        assert asset.status_code == 200, src
        assert len(asset.content) > 100
    for inline in re.findall(r"<script>(.*?)</script>", response.text, re.S):
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_public_base_url_is_used_in_the_embed_tag(tmp_path: Path, content_runtime: Runtime) -> None:
    settings = make_settings(tmp_path, public_base_url="https://kb.example.com/")
    with TestClient(create_app(settings, runtime=content_runtime, sync_on_start=False)) as http:
        response = http.get("/")
    assert (
        '<script src="https://kb.example.com/widget.js" data-kb-url="https://kb.example.com"'
        in (response.text)
    )
    assert "script-src 'self' https://kb.example.com" in response.headers["content-security-policy"]


def test_every_article_page_has_the_index_anchors(client: TestClient) -> None:
    articles = client.get("/v1/articles").json()["articles"]
    assert len(articles) >= 10
    for listed in articles:
        slug = listed["slug"]
        indexed = client.get(f"/v1/articles/{slug}").json()
        anchors = [h["anchor"] for h in indexed["headings"]]
        page = client.get(f"/learn/{slug}")
        assert page.status_code == 200, slug
        assert heading_ids(page.text) == anchors, slug
        assert "content-security-policy" in page.headers
        for heading in indexed["headings"]:
            assert heading["url"] == f"/learn/{slug}#{heading['anchor']}"


def test_citation_urls_land_on_existing_headings(client: TestClient) -> None:
    body = client.post("/v1/chat", json={"message": "How much does fine-tuning cost?"}).json()
    assert body["citations"]
    for citation in body["citations"]:
        path, _, anchor = citation["url"].partition("#")
        assert anchor in heading_ids(client.get(path).text)


def test_unknown_article_is_a_404_problem(client: TestClient) -> None:
    response = client.get("/learn/no-such-article")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "no article with slug 'no-such-article'"


HOSTILE = """---
title: Hostile <b>Title</b>
slug: hostile
summary: Tries every trick in the book "to" run code.
tags: [rag]
updated: 2026-11-01
---

Intro with <img src=x onerror="window.__pwned=1"> inline HTML.

<script>window.__pwned=1</script>

## Links & things

A [bad link](javascript:window.__pwned=1) and a [data link](data:text/html,<b>x</b>) and
a [good link](https://example.com/docs).

## Links & things

<div onclick="window.__pwned=1">div block</div>
"""

PLAIN = """# The Plain Title

No front matter here.

## First section

Text.

## Second section

More text.
"""


@pytest.fixture()
def tmp_site(tmp_path: Path, content_runtime: Runtime) -> tuple[TestClient, Path]:
    content = tmp_path / "content"
    content.mkdir()
    (content / "hostile.md").write_text(HOSTILE)
    (content / "plain-file.md").write_text(PLAIN)
    settings = make_settings(tmp_path, content_dir=content)
    return TestClient(create_app(settings, runtime=content_runtime, sync_on_start=False)), content


def test_raw_html_is_sanitised_and_script_links_are_not_links(
    tmp_site: tuple[TestClient, Path],
) -> None:
    http, _ = tmp_site
    html = http.get("/learn/hostile").text
    body = html.split("<article>", 1)[1]
    assert "<script" not in body and "<img" not in body and "<div onclick" not in body
    assert "__pwned" not in body.replace("javascript:window.__pwned=1", "")
    assert "<div>div block</div>" in body  # raw HTML keeps its text, loses what runs
    assert "Hostile &lt;b&gt;Title&lt;/b&gt;" in body
    hrefs = [str(attrs.get("href")) for tag, attrs in tags_of(body) if tag == "a"]
    assert not any(h.lower().startswith(("javascript:", "data:")) for h in hrefs), hrefs
    assert "[bad link](javascript:window.__pwned=1)" in body
    external = next(a for _, a in tags_of(body) if str(a.get("href") or "").startswith("https"))
    assert external["rel"] == "noopener noreferrer"
    assert not any(name.startswith("on") for _, attrs in tags_of(body) for name in attrs), (
        "an event-handler attribute reached the page"
    )
    assert heading_ids(body) == ["links--things", "links--things-1"]


def test_file_without_front_matter_uses_its_h1_as_title(
    tmp_site: tuple[TestClient, Path],
) -> None:
    http, content = tmp_site
    article = load_article(content / "plain-file.md")
    assert article is not None and article.slug == "plain-file"
    html = http.get("/learn/plain-file").text
    assert "<h1>The Plain Title</h1>" in html
    assert html.count("The Plain Title</h1>") == 1  # the H1 is not repeated in the body
    assert heading_ids(html) == [s.anchor for s in article.sections if s.level > 0]
    assert "/learn/plain-file" in http.get("/").text


def test_article_pages_follow_file_changes(tmp_site: tuple[TestClient, Path]) -> None:
    http, content = tmp_site
    assert "Brand new section" not in http.get("/learn/plain-file").text
    path = content / "plain-file.md"
    path.write_text(PLAIN + "\n## Brand new section\n\nFresh.\n")
    later = time.time() + 5
    os.utime(path, (later, later))
    page = http.get("/learn/plain-file").text
    assert 'id="brand-new-section"' in page
    path.unlink()
    assert http.get("/learn/plain-file").status_code == 404


def test_a_docs_tree_renders_as_its_site_shows_it(content_runtime: Runtime, tmp_path: Path) -> None:
    """Generator syntax renders as callouts and text, never as literal fences; links
    between pages lead to their demo pages."""
    site = Path(__file__).resolve().parents[1] / "fixtures" / "docs" / "mkdocs-site"
    settings = make_settings(tmp_path, content_dir=site / "docs", docs_root=site)
    http = TestClient(create_app(settings, runtime=content_runtime, sync_on_start=False))
    page = http.get("/learn/index")
    assert page.status_code == 200
    body = page.text.split("<article>", 1)[1]
    assert '<div class="admonition note">' in body
    assert '<p class="admonition-title">Python versions</p>' in body
    assert '<p class="admonition-title">Breaking change</p>' in body
    assert '<p class="tab-title">TOML</p>' in body
    assert "Shared snippet text: widgets are thread-safe." in body
    visible = re.sub(r"<[^>]+>", "", body)
    for syntax in ("!!!", "???", "///", '=== "', "--8<--", "{*", "{ #", "{{", ":material-"):
        assert syntax not in visible, syntax
    hrefs = [str(a.get("href")) for tag, a in tags_of(body) if tag == "a"]
    assert "/learn/guide/usage#rotate-a-widget" in hrefs
    assert heading_ids(body)[:2] == ["install-widgets", "configure"]
    usage = http.get("/learn/guide/usage").text.split("<article>", 1)[1]
    assert "Raw HTML keeps its text." in usage and "onclick" not in usage
