"""The demo site on a phone (issue #13, item 11): no page scrolls sideways at 390 px (where
a citation tapped on a phone lands), a mistyped link shows a page rather than JSON, and
every page has an icon. The API docs render from this server's own files under their CSP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.e2e.conftest import Servers

pytestmark = pytest.mark.browser

OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')]
    .filter(el => el.getBoundingClientRect().right > width + 1
                  && getComputedStyle(el).position !== 'fixed'
                  && !el.closest('pre, .table-wrap, table'))
    .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5)};
}"""


@pytest.fixture()
def phone(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def test_no_demo_page_overflows_at_390_px(servers: Servers, phone: BrowserContext) -> None:
    articles = httpx.get(f"{servers.kb}/v1/articles").json()["articles"]
    paths = ["/", *(f"/learn/{a['slug']}" for a in articles), "/learn/no-such-article"]
    page = phone.new_page()
    for path in paths:
        page.goto(servers.kb + path)
        page.wait_for_load_state("load")
        found = page.evaluate(OVERFLOW)
        assert found["scroll"] <= found["width"], (path, found)
        assert not found["wide"], (path, found)


def test_html_routes_answer_people_with_a_page_and_programs_with_a_problem(
    servers: Servers, page: Page
) -> None:
    response = page.goto(f"{servers.kb}/learn/nope")
    assert response is not None and response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    assert page.locator("h1").inner_text() == "Not Found"
    assert "no article with slug 'nope'" in page.locator(".lead").inner_text()
    assert page.locator("a[href='/']").count() >= 1
    api = httpx.get(f"{servers.kb}/learn/nope", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"
    # API routes stay problem+json even for a browser.
    raw = httpx.get(f"{servers.kb}/v1/articles/nope", headers={"Accept": "text/html"})
    assert raw.headers["content-type"] == "application/problem+json"


def test_every_page_has_an_icon(servers: Servers, page: Page) -> None:
    failed: list[str] = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    page.goto(servers.kb + "/")
    page.wait_for_load_state("networkidle")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon == "/favicon.svg"
    assert httpx.get(servers.kb + "/favicon.svg").headers["content-type"] == "image/svg+xml"
    ico = httpx.get(servers.kb + "/favicon.ico")
    assert ico.status_code == 200 and ico.content[:4] == b"\x00\x00\x01\x00"
    assert not [url for url in failed if "favicon" in url]


def test_api_docs_render_offline_under_their_policy(servers: Servers, page: Page) -> None:
    """Item 8: /docs and /redoc loaded their scripts from a CDN, with no CSP."""
    loaded: list[str] = []
    violations: list[str] = []
    page.on("response", lambda r: loaded.append(r.url))
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(servers.kb + "/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    assert page.locator(".opblock-summary-path").count() > 10
    page.goto(servers.kb + "/redoc")
    page.wait_for_selector("h1", timeout=20_000)
    assert "Knowledge Base Chat" in page.locator("h1").first.inner_text()
    # Everything that loaded came from this server (ReDoc's hard-coded CDN logo is blocked).
    foreign = [url for url in loaded if not url.startswith((servers.kb, "data:", "blob:"))]
    assert not foreign, foreign
    assert not [v for v in violations if "script" in v], violations
