"""The answer a visitor sees in the widget, at desktop width and on a 390 px phone: the
lead first and short, then "From the docs" cards (title, heading, quote) that open the
section with the quote highlighted, and a quoted table drawn as a table. Screenshots go
to artifacts/ (answer-first-desktop.png, answer-first-390.png)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ANSWER, Servers, ask, wait_answers

pytestmark = pytest.mark.browser

MAX_PROSE = 450


def _answer(page: Page, kb: str, question: str) -> None:
    page.goto(kb + "/")
    page.locator("[data-kb-launcher]").click()
    ask(page, question)
    wait_answers(page, 1)


def _prose_length(page: Page) -> int:
    """Characters of the answer's prose as shown (code and tables aside, markers out)."""
    length: int = (
        page.locator(ANSWER)
        .last.locator(".bubble")
        .first.evaluate(
            """el => {
              const copy = el.cloneNode(true);
              copy.querySelectorAll('pre, table, sup').forEach(n => n.remove());
              return copy.textContent.replace(/\\s+/g, ' ').trim().length;
            }"""
        )
    )
    return length


def _check_cards(page: Page) -> None:
    answer = page.locator(ANSWER).last
    expect(answer.locator(".label", has_text="From the docs")).to_be_visible()
    cards = answer.locator(".sources .source")
    assert cards.count() >= 1
    first = cards.first
    expect(first.locator(".path")).not_to_be_empty()  # title › heading
    expect(first.locator(".quote")).not_to_be_empty()  # the verbatim quote
    href = first.get_attribute("href") or ""
    assert "#" in href and ":~:text=" in href, href  # opens the section, quote highlighted


def test_answer_first_on_desktop_and_phone(
    servers: Servers, browser: Browser, artifacts: Path
) -> None:
    desktop = browser.new_page(viewport={"width": 1280, "height": 860})
    _answer(desktop, servers.kb, "How much does fine-tuning cost?")
    bubble = desktop.locator(ANSWER).last.locator(".bubble").first
    expect(bubble).to_contain_text("$")  # the amount leads the answer
    assert 0 < _prose_length(desktop) <= MAX_PROSE
    _check_cards(desktop)
    desktop.wait_for_timeout(300)
    desktop.screenshot(path=str(artifacts / "answer-first-desktop.png"))
    desktop.close()

    phone = browser.new_page(viewport={"width": 390, "height": 844})
    _answer(phone, servers.kb, "Does chain of thought help with simple fact lookups?")
    assert 0 < _prose_length(phone) <= MAX_PROSE
    _check_cards(phone)
    panel = phone.locator(".panel")
    overflow = panel.evaluate("el => el.scrollWidth - el.clientWidth")
    assert overflow <= 1, overflow  # nothing wider than the phone
    phone.wait_for_timeout(300)
    phone.screenshot(path=str(artifacts / "answer-first-390.png"))
    phone.close()


def test_a_quoted_table_row_is_drawn_as_a_table(servers: Servers, browser: Browser) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    _answer(page, servers.kb, "which tasks does chain of thought help with, as a table?")
    bubble = page.locator(ANSWER).last.locator(".bubble").first
    tables = bubble.locator("table")
    if tables.count():
        expect(tables.first.locator("th").first).not_to_be_empty()
        assert "|" not in (tables.first.text_content() or "").replace(" | ", "")
    else:  # the lead was prose: no Markdown table syntax may show as text either
        assert "| --- |" not in (bubble.text_content() or "")
    page.close()
