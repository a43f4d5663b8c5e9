"""The dashboard's page and assets without a browser: a CSP that allows no inline code
and no other origin, only allow-listed assets (the vendored chart library with its
licence), the page when no admin token is configured, and escaping of visitor text."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from kbcore.runtime import Runtime
from service.analytics.pages import panels_html, safe_href
from service.analytics.schemas import (
    AnalyticsReport,
    Day,
    Gap,
    Rates,
    ReviewItem,
    ReviewPage,
    TopQuestion,
    Totals,
    Window,
)
from service.app import create_app
from tests.conftest import make_settings

TOKEN = "pages-admin-token-012345"


def test_page_and_assets_are_served_under_a_strict_csp(
    tmp_path: Path, content_runtime: Runtime
) -> None:
    settings = make_settings(tmp_path, admin_token=TOKEN)
    with TestClient(create_app(settings, runtime=content_runtime, sync_on_start=False)) as http:
        page = http.get("/admin")
        assert page.status_code == 200 and 'id="login"' in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "style-src 'self';" in csp
        assert "unsafe-inline" not in csp and "http" not in csp and "default-src 'none'" in csp
        assert page.headers["cache-control"] == "no-store"
        assert "<script>" not in page.text and " style=" not in page.text  # nothing inline

        chart = http.get("/admin/static/uPlot.iife.min.js")
        assert chart.status_code == 200 and chart.headers["content-type"].startswith(
            "text/javascript"
        )
        assert chart.text.startswith("/*! https://github.com/leeoniya/uPlot")
        assert "MIT License" in http.get("/admin/static/uPlot.LICENSE").text
        etag = chart.headers["etag"]
        assert (
            http.get("/admin/static/uPlot.iife.min.js", headers={"If-None-Match": etag}).status_code
            == 304
        )
        for name in ("..%2Fdashboard.py", "dashboard.py", "vendor%2FuPlot.min.css", "x.js"):
            assert http.get(f"/admin/static/{name}").status_code == 404, name


def test_without_an_admin_token_the_page_says_how_to_enable_it(
    tmp_path: Path, content_runtime: Runtime
) -> None:
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings, runtime=content_runtime, sync_on_start=False)) as http:
        page = http.get("/admin")
        assert page.status_code == 200 and 'id="disabled"' in page.text
        assert "KB_ADMIN_TOKEN" in page.text and 'id="login"' not in page.text
        assert http.get("/admin/panels").status_code == 404


def test_visitor_text_is_escaped_and_links_are_only_http_or_site_paths() -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    report = AnalyticsReport(
        window=Window(since="2026-11-01T00:00:00+00:00", until="2026-11-30T00:00:00+00:00"),
        totals=Totals(questions=1, answered=0, refused=1, thumbs_up=0, thumbs_down=0),
        rates=Rates(answered=0, refused=1, thumbs_down=0),
        channels={hostile: 1},
        daily=[Day(date="2026-11-29", questions=1, answered=0, refused=1, thumbs_down=0)],
        top_questions=[
            TopQuestion(count=1, examples=[hostile], articles=[], answered=0, refused=1)
        ],
        gaps=[Gap(count=1, examples=[hostile], reasons={hostile: 1}, nearest_article=None)],
        most_cited=[],
        never_cited=[],
        index_version=hostile,
    )
    item = ReviewItem(
        id="m-1",
        at="2026-11-29T10:00:00+00:00",
        question=hostile,
        query=hostile + "?",
        answer=hostile,
        grounded=False,
        reason="low_similarity",
        reason_detail=None,
        rating="down",
        comment=hostile,
        citations=[],
        suggestions=[
            {"article": "a", "title": hostile, "url": "javascript:alert(3)", "path": "a.md"}
        ],
        channel="rest",
        conversation_id="c",
        reviewed_at=None,
        promoted_at=None,
    )
    html = panels_html(report, ReviewPage(items=[item], total=1, limit=30, offset=0), {})
    assert "<script" not in html and "<img" not in html and "javascript:" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert safe_href("/learn/a#b") == "/learn/a#b" and safe_href("//evil.example") is None
    assert safe_href("https://docs.example.com/a") and safe_href("data:text/html,x") is None
