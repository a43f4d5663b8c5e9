"""The owner's dashboard in a real Chromium: traffic through the real widget (its channel
and its message_id reach the log), then /admin refuses without the token, loads with it
(kept in sessionStorage), shows the chart and the tables on a desktop and a phone, escapes
visitors' text, and its promote action appends to the golden file. Screenshots go to
artifacts/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import make_settings
from tests.e2e.conftest import ANSWER, ask, serve, wait_answers

pytestmark = pytest.mark.browser
TOKEN = "dashboard-admin-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOSTILE = '<img src=x onerror="document.title=1"> is my <b>token</b> safe?'


@dataclass(frozen=True)
class Dashboard:
    url: str
    golden: Path


@pytest.fixture(scope="module")
def dashboard(
    content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory, browser: Browser
) -> Iterator[Dashboard]:
    tmp = tmp_path_factory.mktemp("dashboard")
    golden = tmp / "golden.jsonl"
    golden.write_text("")
    settings = make_settings(tmp, admin_token=TOKEN, golden_file=golden)
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with serve(app) as kb:
        # A visitor in the real widget: an answer rated down with a comment, then a refusal.
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        page.goto(kb + "/")
        page.locator("[data-kb-launcher]").click()
        ask(page, "How much does fine-tuning cost?")
        wait_answers(page, 1)
        answer = page.locator(ANSWER).last
        answer.locator('[data-kb-feedback="down"]').click()
        answer.locator("[data-kb-comment]").fill("Nothing about hosting costs.")
        with page.expect_response(lambda r: r.url.endswith("/v1/feedback")) as posted:
            answer.get_by_role("button", name="Send feedback").click()
        sent = json.loads(posted.value.request.post_data or "{}")
        assert sent["message_id"].startswith("m-")  # the server's id, joined to the turn
        ask(page, "What is the weather in Paris tomorrow?")
        wait_answers(page, 2)
        context.close()
        with httpx.Client(base_url=kb, timeout=60) as http:
            for message in ("What is RAG?", "will it rain in paris tomorrow", HOSTILE):
                assert http.post("/v1/chat", json={"message": message}).status_code == 200
        yield Dashboard(kb, golden)


def sign_in(page: Page, url: str, token: str = TOKEN) -> None:
    page.goto(url + "/admin")
    page.locator("#token").fill(token)
    page.locator("#token").press("Enter")


def review_item(page: Page, question: str) -> Locator:
    """The review queue's card whose question is exactly ``question``."""
    heading = page.get_by_role("heading", name=question, exact=True)
    return page.locator("#review .item").filter(has=heading)


def csp_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return errors


def test_dashboard_refuses_without_the_token(
    dashboard: Dashboard, page: Page, artifacts: Path
) -> None:
    page.goto(dashboard.url + "/admin")
    expect(page.locator("body")).to_have_attribute("data-state", "login")
    expect(page.locator("#login")).to_be_visible()
    assert page.locator("#panels").inner_html() == ""
    assert httpx.get(dashboard.url + "/admin/panels").status_code == 401

    sign_in(page, dashboard.url, "not-the-admin-token-000")
    expect(page.locator("#login-error")).to_contain_text("refused")
    expect(page.locator("body")).to_have_attribute("data-state", "login")
    assert page.locator("#panels").inner_html() == ""
    assert page.evaluate("sessionStorage.getItem('kb-admin-token')") is None
    page.screenshot(path=str(artifacts / "dashboard-refused.png"))


def test_dashboard_shows_chart_and_tables_with_the_token(
    dashboard: Dashboard, page: Page, browser: Browser, artifacts: Path
) -> None:
    errors = csp_errors(page)
    sign_in(page, dashboard.url)
    expect(page.locator("body")).to_have_attribute("data-state", "ready")
    report = httpx.get(dashboard.url + "/v1/admin/analytics", headers=AUTH, timeout=60).json()
    totals = report["totals"]
    assert totals["questions"] == 5 and totals["thumbs_down"] == 1
    for key, value in totals.items():
        expect(page.locator(f'[data-total="{key}"]')).to_have_text(str(value))
    expect(page.locator("#chart canvas").first).to_be_visible()
    assert int(page.locator("#chart").get_attribute("data-drawn") or 0) >= 30
    expect(page.locator("#channels")).to_contain_text("widget 2")
    gaps = page.locator("#gaps tbody tr")
    assert gaps.count() == len(report["gaps"]) >= 2
    expect(page.locator("#gaps")).to_contain_text("Write a new article")  # the weather
    expect(page.locator("#gaps")).to_contain_text("Extend")  # the thumbs-down cost answer
    assert page.locator("#top tbody tr").count() == len(report["top_questions"])
    widget_turn = review_item(page, "How much does fine-tuning cost?")
    expect(widget_turn).to_contain_text("widget")
    expect(widget_turn).to_contain_text("thumbs down")
    expect(widget_turn).to_contain_text("Nothing about hosting costs.")
    # Visitors' text is text: the hostile question shows as written, and runs nothing.
    expect(page.locator("#top")).to_contain_text(HOSTILE)
    assert page.locator("#panels img").count() == 0 and page.title() != "1"
    page.screenshot(path=str(artifacts / "dashboard-desktop.png"), full_page=True)

    page.reload()  # the token is kept for the tab
    expect(page.locator("body")).to_have_attribute("data-state", "ready")
    assert errors == []

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    mobile = phone.new_page()
    sign_in(mobile, dashboard.url)
    expect(mobile.locator("body")).to_have_attribute("data-state", "ready")
    expect(mobile.locator("#chart canvas").first).to_be_visible()
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    mobile.screenshot(path=str(artifacts / "dashboard-phone.png"), full_page=True)
    phone.close()


def test_promote_appends_to_the_golden_file(
    dashboard: Dashboard, page: Page, artifacts: Path
) -> None:
    sign_in(page, dashboard.url)
    expect(page.locator("body")).to_have_attribute("data-state", "ready")
    item = review_item(page, "What is the weather in Paris tomorrow?")
    item.locator("select[name=article]").select_option("__unanswerable__")
    item.get_by_role("button", name="Add to golden set").click()
    expect(page.locator("#status")).to_contain_text("Added “What is the weather in Paris")
    expect(page.locator("body")).to_have_attribute("data-state", "ready")
    lines = [json.loads(line) for line in dashboard.golden.read_text().splitlines()]
    assert len(lines) == 1
    assert lines[0]["question"] == "What is the weather in Paris tomorrow?"
    assert lines[0]["answerable"] is False and lines[0]["id"].startswith("log-")
    # Promoted means reviewed: it leaves the open queue, and the log says where it went.
    expect(review_item(page, "What is the weather in Paris tomorrow?")).to_have_count(0)
    done = httpx.get(
        dashboard.url + "/v1/admin/review", params={"status": "reviewed"}, headers=AUTH
    ).json()
    assert [i["question"] for i in done["items"] if i["promoted_at"]] == [lines[0]["question"]]

    cost = review_item(page, "How much does fine-tuning cost?")
    expect(cost.locator("select[name=article]")).to_have_value("fine-tuning-cost")  # cited
    cost.get_by_role("button", name="Add to golden set").click()
    expect(page.locator("#status")).to_contain_text("Added “How much does fine-tuning cost?”")
    lines = [json.loads(line) for line in dashboard.golden.read_text().splitlines()]
    assert [line["article"] for line in lines] == ["", "fine-tuning-cost"]

    rain = review_item(page, "will it rain in paris tomorrow")
    rain.get_by_role("button", name="Mark reviewed").click()
    expect(page.locator("#status")).to_contain_text("Marked reviewed")
    expect(review_item(page, "will it rain in paris")).to_have_count(0)
    page.screenshot(path=str(artifacts / "dashboard-promoted.png"), full_page=True)


def test_long_and_right_to_left_questions_stay_in_their_rows(
    content_runtime: Runtime, tmp_path: Path, browser: Browser
) -> None:
    long = "why does " + "x" * 1_900
    override = "\u202eevil override\u202c what is the weather on mars?"
    settings = make_settings(tmp_path, admin_token=TOKEN)
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with serve(app) as kb:
        with httpx.Client(base_url=kb, timeout=60) as http:
            for message in (long, override, "What is the capital of Australia?"):
                assert http.post("/v1/chat", json={"message": message}).status_code == 200
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        sign_in(page, kb)
        expect(page.locator("body")).to_have_attribute("data-state", "ready")
        gaps = page.locator("#gaps")
        expect(gaps).to_contain_text("why does xxx")
        # Every question sits in its own bidi island; the long one wraps within its cell.
        islands = gaps.locator("ul.examples li > bdi[dir=auto]")
        assert islands.count() >= 3
        height = gaps.evaluate("el => el.getBoundingClientRect().height")
        assert height < 1_200, height
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        # Off-topic refusals (far from every section) ask for a new article, never "Extend".
        assert gaps.locator(".extend").count() == 0
        context.close()
