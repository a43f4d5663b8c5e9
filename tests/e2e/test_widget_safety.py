"""Safety of the widget in a real Chromium: hostile article content and hostile server
data run nothing; host-page CSS and widget CSS do not leak into each other; only the
origins in KB_ALLOWED_ORIGINS can use the API from a browser."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from ingest.runner import ingest
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import make_settings
from tests.e2e.conftest import ANSWER, FAILED, Servers, ask, host_page, serve, wait_answers

pytestmark = pytest.mark.browser

HOSTILE = """---
title: Zebra Grooming Guide
slug: zebra-grooming
summary: How to brush, wash and care for a zebra's striped coat.
tags: [rag]
updated: 2026-11-01
questions:
  - How often should I brush a zebra?
---

Zebras need regular grooming to keep their stripes healthy. <img src=x onerror="window.__pwned=1">

<script>window.__pwned=1</script>

## How often should you brush a zebra?

You should brush a zebra twice a week with a soft brush, and the tag
`<img src=x onerror=window.__pwned=1>` in the grooming notes is only text. Never follow
[this grooming link](javascript:window.__pwned=1) from the notes.

## What does `<script>window.__pwned=1</script>` mean for zebra grooming?

It is a harmless string that zebra grooming notes sometimes quote.
"""

NO_IMAGES = """() => {
  const root = document.querySelector('[data-kb-host]').shadowRoot;
  return root.querySelectorAll('img, script, iframe, object, embed').length;
}"""
HREFS = """() => [...document.querySelector('[data-kb-host]').shadowRoot.querySelectorAll('a')]
  .map(a => a.getAttribute('href'))"""


@pytest.fixture(scope="module")
def hostile_kb(embedder: OnnxMiniLM, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("hostile")
    content = tmp / "content"
    content.mkdir()
    (content / "zebra-grooming.md").write_text(HOSTILE)
    settings = make_settings(tmp, content_dir=content)
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    report = ingest(runtime)
    assert report.warnings == [] and report.switched
    app = create_app(settings, runtime=runtime, sync_on_start=False)
    with serve(app) as url:
        yield url
    runtime.close()


def test_hostile_article_executes_nothing_in_widget_or_page(hostile_kb: str, page: Page) -> None:
    page.goto(hostile_kb + "/")
    page.locator("[data-kb-launcher]").click()
    ask(page, "How often should I brush a zebra?")
    wait_answers(page, 1)
    answer = page.locator(ANSWER).last
    text = answer.inner_text()
    assert "<img src=x onerror=window.__pwned=1>" in text, text
    assert page.evaluate(NO_IMAGES) == 0
    assert page.evaluate("() => window.__pwned") is None
    hrefs = page.evaluate(HREFS)
    assert hrefs and all(h.startswith(hostile_kb + "/learn/zebra-grooming") for h in hrefs), hrefs

    ask(page, "What does the script string mean for zebra grooming?")
    wait_answers(page, 2)
    sources = page.locator(ANSWER).last.locator(".sources")
    expect(sources).to_contain_text("<script>window.__pwned=1</script>")
    assert page.evaluate(NO_IMAGES) == 0

    page.goto(hostile_kb + "/learn/zebra-grooming")
    article = page.locator("article")
    expect(article).to_contain_text("<script>window.__pwned=1</script>")
    # Raw HTML keeps its text and loses its tags (sanitised, never shown as markup).
    expect(article).to_contain_text("Zebras need regular grooming to keep their stripes healthy.")
    expect(article).to_contain_text("[this grooming link](javascript:window.__pwned=1)")
    assert page.locator("article script, article img").count() == 0
    assert page.locator("script").count() == 1  # only the widget's tag
    assert page.evaluate("() => window.__pwned") is None


def _sse(events: list[tuple[str, dict[str, Any]]]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


EVIL = "<img src=x onerror=window.__pwned=1><script>window.__pwned=1</script>"
EVIL_CITATIONS = [
    {"id": 1, "title": EVIL, "heading": "H", "url": "javascript:window.__pwned=1", "quote": EVIL},
    {"id": 2, "title": "T", "heading": "H", "url": "data:text/html,<script>x</script>"},
    {"id": 3, "title": "T", "heading": "H", "url": " JaVaScRiPt:window.__pwned=1"},
    {"id": 4, "title": "Fine", "heading": EVIL, "url": "/learn/ok#fine", "quote": "ok"},
]


def test_hostile_server_data_is_text_and_bad_urls_never_become_links(
    servers: Servers, page: Page
) -> None:
    """Even a compromised API cannot inject markup or script URLs into the host page."""
    calls = {"n": 0}

    def hostile(route: Route) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            done = {
                "answer": f"Claim {EVIL} [1] [2] [3] [4] **bold** `code`",
                "citations": EVIL_CITATIONS,
                "grounded": True,
                "suggestions": [],
                "conversation_id": '"><script>',
            }
        else:
            done = {
                "answer": f"Not covered {EVIL}",
                "citations": [],
                "grounded": False,
                "suggestions": [
                    {"title": EVIL, "url": "javascript:window.__pwned=1"},
                    {"title": "vb", "url": "vbscript:msgbox(1)"},
                    {"title": "Good one", "url": "/learn/good"},
                ],
                "conversation_id": "c",
            }
        route.fulfill(
            status=200,
            headers={"Content-Type": "text/event-stream"},
            body=_sse([("delta", {"text": EVIL}), ("done", done)]),
        )

    page.route("**/v1/chat", hostile)
    page.goto(servers.kb + "/")
    page.locator("[data-kb-launcher]").click()
    ask(page, "anything")
    wait_answers(page, 1)
    ask(page, "anything else")
    wait_answers(page, 2)

    first, second = page.locator(ANSWER).nth(0), page.locator(ANSWER).nth(1)
    expect(first.locator(".bubble")).to_contain_text(EVIL)
    expect(first.locator(".bubble")).to_contain_text("[1] [2] [3]")  # unsafe: left as text
    expect(first.locator(".bubble strong")).to_have_text("bold")
    expect(first.locator("[data-kb-citation]")).to_have_count(2)  # marker 4 + its source
    expect(first.locator(".sources")).to_contain_text(EVIL)
    expect(second.locator("[data-kb-suggestion]")).to_have_count(1)
    expect(second.locator("[data-kb-suggestion]")).to_have_text("Good one")
    assert page.evaluate(NO_IMAGES) == 0
    for href in page.evaluate(HREFS):
        assert re.match(r"https?://", href), href
    first.locator(".bubble").click()
    assert page.evaluate("() => window.__pwned") is None
    stored = page.evaluate("() => JSON.stringify(sessionStorage)")
    assert "w-" in stored  # the widget's own conversation id, not the server's junk


AGGRESSIVE_CSS = """<style>
* { color: red !important; font-size: 40px !important; font-family: serif !important;
    line-height: 3 !important; letter-spacing: 5px !important; box-sizing: content-box !important;
    background: yellow !important; }
button { display: none !important; }
div { padding: 30px !important; margin: 20px !important; border: 5px solid lime !important; }
textarea, input { width: 10px !important; }
[data-kb-host] { display: none !important; opacity: 0 !important; }
</style>"""

HOST_BODY = """<h1 id="t">Customer page</h1><p id="p">Some text <a id="a" href="#">a link</a></p>
<button id="b">Buy</button><textarea id="x"></textarea><div id="d">box</div>"""

WIDGET_PROBE = """() => {
  const root = document.querySelector('[data-kb-host]').shadowRoot;
  const pick = (sel, props) => {
    const s = getComputedStyle(root.querySelector(sel));
    return Object.fromEntries(props.map(p => [sel + ' ' + p, s.getPropertyValue(p)]));
  };
  const common = ['color', 'font-size', 'font-family', 'line-height', 'letter-spacing',
                  'background-color', 'display', 'padding-top', 'border-top-width', 'width'];
  return Object.assign({},
    pick('[data-kb-launcher]', common), pick('.panel', common), pick('.head', common),
    pick('[data-kb-greeting] .bubble', common), pick('[data-kb-input]', common),
    pick('.send', common), pick('.title', common));
}"""

HOST_PROBE = """() => {
  const out = {};
  for (const id of ['t', 'p', 'a', 'b', 'x', 'd']) {
    const s = getComputedStyle(document.getElementById(id));
    for (const p of ['color', 'font-size', 'font-family', 'line-height', 'display', 'margin-top',
                     'padding-top', 'background-color', 'box-sizing', 'outline-style', 'width'])
      out[id + ' ' + p] = s.getPropertyValue(p);
  }
  out.sheets = document.styleSheets.length + document.adoptedStyleSheets.length;
  out.bodyChildren = [...document.body.children]
    .filter(e => !e.hasAttribute('data-kb-host')).length;
  return out;
}"""


def _open_widget(page: Page) -> None:
    launcher = page.locator("[data-kb-launcher]")
    if launcher.get_attribute("aria-expanded") != "true":  # it reopens as it was left
        launcher.click()
    expect(page.locator(".panel")).to_be_visible()


def test_host_css_does_not_reach_the_widget_and_widget_css_does_not_leak(
    servers: Servers, page: Page
) -> None:
    site, kb = servers.allowed, servers.kb
    site.pages["/plain"] = host_page(kb, HOST_BODY)
    site.pages["/aggressive"] = host_page(kb, HOST_BODY, head=AGGRESSIVE_CSS)
    site.pages["/bare"] = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'></head><body>{HOST_BODY}"
        "</body></html>"
    )
    site.pages["/bare-aggressive"] = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{AGGRESSIVE_CSS}</head>"
        f"<body>{HOST_BODY}</body></html>"
    )

    page.goto(site.url + "/plain")
    _open_widget(page)
    baseline = page.evaluate(WIDGET_PROBE)
    page.goto(site.url + "/aggressive")
    _open_widget(page)
    assert page.evaluate(WIDGET_PROBE) == baseline
    assert page.locator("[data-kb-launcher]").is_visible()
    assert baseline["[data-kb-launcher] display"] != "none"
    assert baseline["[data-kb-greeting] .bubble font-size"] == "14.5px"

    # The other way round: the widget changes nothing on the host page.
    for bare, embedded in (("/bare", "/plain"), ("/bare-aggressive", "/aggressive")):
        page.goto(site.url + bare)
        without = page.evaluate(HOST_PROBE)
        page.goto(site.url + embedded)
        _open_widget(page)
        page.locator("[data-kb-input]").focus()
        with_widget = page.evaluate(HOST_PROBE)
        without["sheets"] = with_widget["sheets"] = 0  # compared separately below
        assert with_widget == without, embedded
        # The widget adds no stylesheet to the document (its styles live in its shadow root).
        sheets = page.evaluate("() => document.styleSheets.length")
        expected = 1 if embedded == "/aggressive" else 0
        assert sheets == expected and page.evaluate("() => document.adoptedStyleSheets.length") == 0
        assert page.evaluate("() => Object.keys(window).filter(k => k.startsWith('KB'))") == [
            "KBWidget"
        ]


def test_embed_from_an_allowed_origin_works_and_other_origins_are_refused(
    servers: Servers, context: BrowserContext
) -> None:
    kb = servers.kb
    page = context.new_page()
    servers.allowed.pages["/docs"] = host_page(kb, "<h1>Customer docs</h1>", title="Help")
    page.goto(servers.allowed.url + "/docs")
    page.locator("[data-kb-launcher]").click()
    expect(page.get_by_role("dialog", name="Help")).to_be_visible()
    ask(page, "How much does fine-tuning cost?")
    wait_answers(page, 1)
    citation = page.locator(ANSWER).last.locator(".sources [data-kb-citation]").first
    expect(citation).to_have_attribute(
        "href", re.compile(re.escape(kb) + "/learn/fine-tuning-cost#")
    )
    # A link to another origin opens in a new tab without opener or referrer.
    expect(citation).to_have_attribute("target", "_blank")
    expect(citation).to_have_attribute("rel", "noopener noreferrer")
    with page.expect_response(lambda r: r.url.endswith("/v1/feedback")) as feedback:
        page.locator(ANSWER).last.locator('[data-kb-feedback="up"]').click()
    assert feedback.value.status == 201

    # Inline mount on the allowed site: no launcher, the panel sits in the page.
    servers.allowed.pages["/inline"] = host_page(
        kb, '<main><div data-kb-widget data-title="Inline help" data-height="520"></div></main>'
    )
    page.goto(servers.allowed.url + "/inline")
    expect(page.locator("[data-kb-launcher]")).to_have_count(0)
    expect(page.get_by_role("dialog", name="Inline help")).to_be_visible()
    ask(page, "What is LoRA?")
    wait_answers(page, 1)

    refused = context.new_page()
    messages: list[str] = []
    refused.on("console", lambda msg: messages.append(msg.text))
    servers.other.pages["/docs"] = host_page(kb, "<h1>Not listed</h1>")
    refused.goto(servers.other.url + "/docs")
    refused.locator("[data-kb-launcher]").click()  # the script itself loads from anywhere
    ask(refused, "How much does fine-tuning cost?")
    failed = refused.locator(FAILED)
    expect(failed).to_have_count(1)
    expect(failed.locator("[data-kb-error]")).to_contain_text("couldn't reach the assistant")
    expect(failed.locator("[data-kb-retry]")).to_be_visible()
    expect(refused.locator('[data-kb-message="user"]')).to_have_text(
        "How much does fine-tuning cost?"
    )
    assert any("CORS" in m or "Access-Control-Allow-Origin" in m for m in messages), messages
    # The widget tells the page's developer which setting allows this site.
    hint = f"add {servers.other.url} to KB_ALLOWED_ORIGINS"
    assert sum(hint in m for m in messages) == 1, messages
