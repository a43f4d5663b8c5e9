"""Screenshots of the widget as test artifacts (artifacts/, gitignored), plus the layout
facts they show: full-screen panel on narrow screens, dark theme, reduced motion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ANSWER, Servers, ask, host_page, wait_answers

pytestmark = pytest.mark.browser


def _chat(page: Page, kb: str, question: str) -> None:
    page.goto(kb + "/")
    page.locator("[data-kb-launcher]").click()
    ask(page, question)
    wait_answers(page, 1)
    page.wait_for_timeout(400)  # let the entry animation settle


def _shot(page: Page, path: Path) -> None:
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000, path


def _background(page: Page, selector: str) -> str:
    color: str = page.locator(selector).first.evaluate("el => getComputedStyle(el).backgroundColor")
    return color


def test_screenshots_light_dark_narrow(servers: Servers, browser: Browser, artifacts: Path) -> None:
    light = browser.new_page(viewport={"width": 1280, "height": 860}, color_scheme="light")
    _chat(light, servers.kb, "How much does fine-tuning cost?")
    expect(light.locator(ANSWER).last.locator(".sources")).to_be_visible()
    _shot(light, artifacts / "widget-answer-light.png")
    panel = light.locator(".panel").bounding_box()
    assert panel and panel["width"] == 400 and panel["x"] > 800  # bottom-right corner
    light_bg = _background(light, ".panel")
    light.locator(ANSWER).last.locator(".sources [data-kb-citation]").first.click()
    light.wait_for_url("**/learn/fine-tuning-cost#*")
    light.wait_for_timeout(300)
    _shot(light, artifacts / "article-page.png")
    light.close()

    dark = browser.new_page(viewport={"width": 1280, "height": 860}, color_scheme="dark")
    _chat(dark, servers.kb, "How much does fine-tuning cost?")
    _shot(dark, artifacts / "widget-answer-dark.png")
    assert _background(dark, ".panel") != light_bg  # theme "auto" follows the system
    dark.close()

    narrow = browser.new_page(viewport={"width": 400, "height": 800}, color_scheme="light")
    _chat(narrow, servers.kb, "What is LoRA?")
    box = narrow.locator(".panel").bounding_box()
    assert box == {"x": 0, "y": 0, "width": 400, "height": 800}  # full screen under 480 px
    _shot(narrow, artifacts / "widget-narrow-400.png")
    narrow.close()


def test_screenshot_refusal_and_reduced_motion(
    servers: Servers, browser: Browser, artifacts: Path
) -> None:
    page = browser.new_page(
        viewport={"width": 1280, "height": 860}, color_scheme="light", reduced_motion="reduce"
    )
    _chat(page, servers.kb, "How do I reset my wifi router?")
    answer = page.locator(ANSWER).last
    expect(answer.locator("[data-kb-suggestion]").first).to_be_visible()
    for link in answer.locator("[data-kb-suggestion]").all():
        assert (link.get_attribute("href") or "").startswith(servers.kb + "/learn/")
    animation = page.locator(".panel").evaluate("el => getComputedStyle(el).animationName")
    assert animation == "none"
    _shot(page, artifacts / "widget-refusal.png")
    page.close()


def test_forced_dark_theme_attribute(servers: Servers, browser: Browser, artifacts: Path) -> None:
    page = browser.new_page(viewport={"width": 900, "height": 760}, color_scheme="light")
    servers.allowed.pages["/dark"] = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Dark</title>"
        f'<script src="{servers.kb}/widget.js" data-kb-url="{servers.kb}" data-theme="dark" '
        'data-accent="#0ea5e9" data-position="left" data-title="Support" '
        'data-greeting="Hello! How can we help today?" data-placeholder="Type here" defer>'
        "</script></head><body><h1>Customer site</h1></body></html>"
    )
    page.goto(servers.allowed.url + "/dark")
    page.locator("[data-kb-launcher]").click()
    expect(page.locator("[data-kb-greeting]")).to_have_text("Hello! How can we help today?")
    expect(page.locator("[data-kb-input]")).to_have_attribute("placeholder", "Type here")
    box = page.locator(".panel").bounding_box()
    assert box and box["x"] < 100  # data-position="left"
    ask(page, "How much does fine-tuning cost?")
    wait_answers(page, 1)
    page.wait_for_timeout(300)
    # A light accent gets dark text on it (contrast), links stay readable on the dark panel.
    on_accent = page.locator('[data-kb-message="user"] .bubble').evaluate(
        "el => getComputedStyle(el).color"
    )
    assert on_accent == "rgb(17, 19, 24)"
    _shot(page, artifacts / "widget-dark-left-custom.png")
    page.close()


COLORS = """selector => {
  const root = document.querySelector('[data-kb-host]').shadowRoot;
  const opaque = c => c && !/^rgba\\(.*, 0\\)$/.test(c) && c !== 'transparent';
  return [...root.querySelectorAll(selector)].map(el => {
    let node = el;
    let bg = null;
    while (node) {
      const b = getComputedStyle(node).backgroundColor;
      if (opaque(b)) { bg = b; break; }
      node = node.parentElement || (node.getRootNode() && node.getRootNode().host) || null;
    }
    return [getComputedStyle(el).color, bg || 'rgb(255, 255, 255)'];
  });
}"""

TEXTS = [
    "[data-kb-greeting] .bubble",
    '[data-kb-message="user"] .bubble',
    f"{ANSWER} .bubble",
    ".ref a",
    ".path",
    ".art",
    ".quote",
    ".label",
    ".fb span",
    ".note",
    ".title",
]


def _channels(css: str) -> tuple[float, float, float]:
    """rgb(...) or color(srgb ...) -> 0..1 channels."""
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
    if css.startswith("color("):
        r, g, b = numbers[:3]
        return r, g, b
    r, g, b = numbers[:3]
    return r / 255, g / 255, b / 255


def _contrast(fg: str, bg: str) -> float:
    def lum(css: str) -> float:
        def lin(c: float) -> float:
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = _channels(css)
        return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)

    high, low = sorted((lum(fg), lum(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize(
    ("scheme", "accent"),
    [("light", "#4f46e5"), ("dark", "#4f46e5"), ("light", "#facc15"), ("dark", "#0ea5e9")],
)
def test_text_contrast_meets_wcag_aa(
    servers: Servers, browser: Browser, scheme: str, accent: str
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 860}, color_scheme=scheme)  # type: ignore[arg-type]
    path = f"/contrast-{scheme}-{accent[1:]}"
    servers.allowed.pages[path] = host_page(servers.kb, "<h1>Contrast</h1>", accent=accent)
    page.goto(servers.allowed.url + path)
    page.locator("[data-kb-launcher]").click()
    ask(page, "How much does fine-tuning cost?")
    wait_answers(page, 1)
    page.wait_for_timeout(300)
    checked = 0
    for selector in TEXTS:
        for fg, bg in page.evaluate(COLORS, selector):
            ratio = _contrast(fg, bg)
            assert ratio >= 4.5, f"{selector}: {fg} on {bg} is {ratio:.2f}:1 ({scheme}, {accent})"
            checked += 1
    assert checked >= len(TEXTS)
    page.close()
