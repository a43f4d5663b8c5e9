"""The widget in a real Chromium on the demo page: a streamed, cited answer whose citation
opens the right article section; the conversation surviving navigation and reload;
follow-ups with history; feedback; keyboard-only use; errors with retry."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import (
    ANSWER,
    FAILED,
    Servers,
    ask,
    focused_hook,
    wait_answers,
)

pytestmark = pytest.mark.browser

QUESTION = "How much does fine-tuning cost?"


def test_demo_page_streams_a_cited_answer_whose_link_opens_the_section(
    servers: Servers, page: Page
) -> None:
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(servers.kb + "/")
    launcher = page.locator("[data-kb-launcher]")
    expect(launcher).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.click()
    dialog = page.get_by_role("dialog", name="Ask our docs")
    expect(dialog).to_be_visible()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("log")).to_have_attribute("aria-live", "polite")

    with page.expect_response(lambda r: r.url.endswith("/v1/chat")) as chat:
        ask(page, QUESTION)
    assert chat.value.headers["content-type"].startswith("text/event-stream")
    expect(page.locator('[data-kb-message="user"]')).to_have_text(QUESTION)
    answer = page.locator(ANSWER).last
    expect(answer).to_be_visible()
    text = answer.locator(".bubble").inner_text()
    assert "$50-500" in text or "3-5" in text, text
    assert not re.search(r"\[\d+\]", text), "markers must render as links, not raw [n]"

    citation = answer.locator("[data-kb-citation]").first
    href = citation.get_attribute("href") or ""
    match = re.fullmatch(
        re.escape(servers.kb) + r"/learn/fine-tuning-cost#([a-z0-9-]+)(:~:text=\S+)?", href
    )
    assert match, href
    anchor = match.group(1)
    sources = answer.locator(".sources [data-kb-citation]")
    expect(sources.first).to_contain_text("How Much Does Fine-Tuning Cost?")
    assert sources.count() >= 1
    assert citation.get_attribute("target") is None  # same site: same tab

    citation.click()
    page.wait_for_url(re.compile(r".*/learn/fine-tuning-cost#.*"))
    heading = page.locator(f"[id='{anchor}']")
    expect(heading).to_have_count(1)
    assert heading.evaluate("el => /^H[2-6]$/.test(el.tagName)")
    assert page.evaluate("() => window.__pwned") is None
    # The strict CSP of the demo pages blocks nothing the widget does.
    assert not [m for m in console if "Content Security Policy" in m], console

    # The conversation follows the visitor to the article page, panel closed to read.
    expect(page.locator("[data-kb-launcher]")).to_have_attribute("aria-expanded", "false")
    page.locator("[data-kb-launcher]").click()
    expect(page.locator('[data-kb-message="user"]')).to_have_text(QUESTION)
    expect(page.locator(ANSWER)).to_have_count(1)


def test_follow_up_sends_history_and_reload_keeps_the_conversation(
    servers: Servers, page: Page
) -> None:
    page.goto(servers.kb + "/")
    page.locator("[data-kb-launcher]").click()
    ask(page, QUESTION)
    wait_answers(page, 1)
    first_answer = page.locator(ANSWER).last.locator(".bubble").inner_text()

    page.reload()
    expect(page.get_by_role("dialog")).to_be_visible()  # it was open: still open
    expect(page.locator(ANSWER)).to_have_count(1)
    assert page.locator(ANSWER).last.locator(".bubble").inner_text() == first_answer

    with page.expect_request(lambda r: r.url.endswith("/v1/chat")) as sent:
        ask(page, "and how many rounds should I plan for?")
    body = json.loads(sent.value.post_data or "{}")
    assert body["stream"] is True and body["conversation_id"]
    assert [turn["role"] for turn in body["history"]] == ["user", "assistant"]
    assert body["history"][0]["content"] == QUESTION
    wait_answers(page, 2)
    follow_up = page.locator(ANSWER).last
    assert "3-5" in follow_up.locator(".bubble").inner_text()
    expect(follow_up.locator("[data-kb-citation]").first).to_have_attribute(
        "href", re.compile(r".*/learn/fine-tuning-cost#.*")
    )

    # "New conversation" clears the transcript and the stored state.
    page.locator("[data-kb-new]").click()
    expect(page.locator('[data-kb-message="user"]')).to_have_count(0)
    expect(page.locator("[data-kb-greeting]")).to_be_visible()
    page.reload()
    expect(page.locator('[data-kb-message="user"]')).to_have_count(0)


def test_feedback_posts_rating_and_comment(servers: Servers, page: Page) -> None:
    page.goto(servers.kb + "/")
    page.locator("[data-kb-launcher]").click()
    ask(page, QUESTION)
    wait_answers(page, 1)
    answer = page.locator(ANSWER).last
    answer.locator('[data-kb-feedback="down"]').click()
    comment = answer.locator("[data-kb-comment]")
    expect(comment).to_be_focused()
    comment.fill("Please mention retraining costs.")
    with page.expect_response(lambda r: r.url.endswith("/v1/feedback")) as posted:
        answer.get_by_role("button", name="Send feedback").click()
    assert posted.value.status == 201
    sent = json.loads(posted.value.request.post_data or "{}")
    assert sent["rating"] == "down" and sent["comment"] == "Please mention retraining costs."
    assert sent["question"] == QUESTION and "$50-500" in sent["answer"]
    assert sent["citations"] and all("/learn/" in url for url in sent["citations"])
    expect(answer.locator('[data-kb-feedback="down"]')).to_have_attribute("aria-pressed", "true")
    expect(answer.locator('[data-kb-feedback="up"]')).to_be_disabled()
    expect(answer.locator(".fb")).to_contain_text("Thanks")


def test_keyboard_only(servers: Servers, page: Page) -> None:
    page.goto(servers.kb + "/")
    for _ in range(80):
        page.keyboard.press("Tab")
        if focused_hook(page) == "data-kb-launcher":
            break
    assert focused_hook(page) == "data-kb-launcher", "Tab never reached the launcher"
    outline = page.locator("[data-kb-launcher]").evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none", "the focused launcher shows no focus ring"

    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.wait_for_function(f"() => ({FOCUSED_JS})() === 'data-kb-input'")

    page.keyboard.type("What is LoRA?")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("Keep it short.")
    box = page.locator("[data-kb-input]")
    assert box.input_value() == "What is LoRA?\nKeep it short."
    expect(page.locator('[data-kb-message="user"]')).to_have_count(0)  # not sent yet
    page.keyboard.press("Enter")
    expect(page.locator('[data-kb-message="user"]')).to_have_text("What is LoRA?\nKeep it short.")
    assert box.input_value() == ""
    wait_answers(page, 1)

    # Tab reaches the answer's links and buttons, then Escape closes from anywhere inside.
    page.keyboard.press("Shift+Tab")
    assert focused_hook(page) != "body"
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert focused_hook(page) == "data-kb-launcher"
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert focused_hook(page) == "data-kb-launcher"


FOCUSED_JS = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  return el && el.hasAttribute("data-kb-input") ? "data-kb-input" : null;
}"""


def _problem(status: int, retry_after: str) -> dict[str, object]:
    return {
        "status": status,
        "headers": {"Content-Type": "application/problem+json", "Retry-After": retry_after},
        "body": json.dumps({"title": "x", "status": status, "detail": "x"}),
    }


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        ("offline", "couldn't reach the assistant"),
        ("429", "wait 2 seconds"),
        ("503", "temporarily unavailable"),
        ("stream-error", "temporarily unavailable"),
        ("cut", "couldn't reach the assistant"),
    ],
)
def test_errors_show_a_friendly_message_and_retry_keeps_the_transcript(
    servers: Servers, page: Page, failure: str, message: str
) -> None:
    page.goto(servers.kb + "/")
    page.locator("[data-kb-launcher]").click()
    ask(page, QUESTION)
    wait_answers(page, 1)

    def fail(route: Route) -> None:
        if failure == "offline":
            route.abort("internetdisconnected")
        elif failure == "429":
            route.fulfill(**_problem(429, "2"))  # type: ignore[arg-type]
        elif failure == "503":
            route.fulfill(**_problem(503, "1"))  # type: ignore[arg-type]
        elif failure == "stream-error":
            route.fulfill(
                status=200,
                headers={"Content-Type": "text/event-stream"},
                body='event: meta\ndata: {"conversation_id": "x"}\n\nevent: delta\n'
                'data: {"text": "Partial"}\n\nevent: error\n'
                'data: {"title": "Service Unavailable", "status": 503, "retry_after": "1"}\n\n',
            )
        else:  # the connection drops mid-answer: no done event
            route.fulfill(
                status=200,
                headers={"Content-Type": "text/event-stream"},
                body='event: delta\ndata: {"text": "Half an ans"}\n\n',
            )

    page.route("**/v1/chat", fail)
    ask(page, "and how many rounds should I plan for?")
    failed = page.locator(FAILED)
    expect(failed).to_have_count(1)
    error = failed.locator("[data-kb-error]")
    expect(error).to_contain_text(re.compile(message, re.I))
    expect(error).to_have_attribute("role", "alert")
    # Nothing is lost: both questions and the first answer are still there.
    expect(page.locator('[data-kb-message="user"]')).to_have_count(2)
    expect(page.locator(ANSWER)).to_have_count(1)

    page.unroute("**/v1/chat")
    retry = failed.locator("[data-kb-retry]")
    expect(retry).to_be_enabled(timeout=10_000)
    retry.click()
    wait_answers(page, 2)
    expect(page.locator(FAILED)).to_have_count(0)
    assert "3-5" in page.locator(ANSWER).last.inner_text()
    expect(page.locator('[data-kb-message="user"]')).to_have_count(2)


def test_host_page_hooks_api_and_events(servers: Servers, page: Page) -> None:
    page.goto(servers.kb + "/")
    page.evaluate(
        """() => {
          window.__events = [];
          for (const name of ["open", "close", "question", "answer", "reset"])
            document.addEventListener("kb:" + name, e => window.__events.push([name, e.detail]));
        }"""
    )
    chip = page.locator("[data-kb-ask]").first
    question = chip.get_attribute("data-kb-ask")
    assert question
    chip.click()  # a plain button of the host page asks the widget
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator('[data-kb-message="user"]')).to_have_text(question)
    wait_answers(page, 1)
    events = page.evaluate("() => window.__events")
    names = [name for name, _ in events]
    assert names[:3] == ["open", "question", "answer"], names
    answer = events[2][1]
    assert answer["question"] == question and answer["grounded"] is True
    assert answer["citations"] and answer["conversationId"].startswith("w-")

    page.evaluate("() => KBWidget.close()")
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.evaluate("() => KBWidget.ask('What is LoRA?')")
    expect(page.get_by_role("dialog")).to_be_visible()
    wait_answers(page, 2)
    page.evaluate("() => KBWidget.reset()")
    expect(page.locator('[data-kb-message="user"]')).to_have_count(0)
    assert page.evaluate("() => Object.isFrozen(window.KBWidget)")
    assert page.evaluate("() => Object.keys(window).filter(k => /^kb/i.test(k))") == ["KBWidget"]


def test_leaving_mid_answer_offers_a_retry_after_reload(servers: Servers, page: Page) -> None:
    page.goto(servers.kb + "/")
    page.locator("[data-kb-launcher]").click()
    page.route("**/v1/chat", lambda route: None)  # the answer never comes
    ask(page, QUESTION)
    expect(page.locator('[data-kb-state="waiting"]')).to_have_count(1)
    page.reload()  # the held request dies with the page; only then may answers flow again
    page.unroute("**/v1/chat")
    failed = page.locator(FAILED)
    expect(failed.locator("[data-kb-error]")).to_contain_text("interrupted")
    expect(page.locator('[data-kb-message="user"]')).to_have_text(QUESTION)
    failed.locator("[data-kb-retry]").click()
    wait_answers(page, 1)
    expect(page.locator(FAILED)).to_have_count(0)
