"""CORS (only the sites in KB_ALLOWED_ORIGINS, no wildcard, preflight handled) and per-IP
rate limiting of the public API (429 problem+json with Retry-After)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from kbcore.runtime import Runtime
from service.app import create_app
from service.server import uvicorn_config
from tests.conftest import make_settings
from tests.e2e.conftest import serve

SITE = "https://docs.customer.example"
OTHER = "https://evil.example"


def client_for(tmp: Path, runtime: Runtime, **overrides: Any) -> TestClient:
    settings = make_settings(tmp, allowed_origins=[SITE], **overrides)
    return TestClient(create_app(settings, runtime=runtime, sync_on_start=False))


@pytest.fixture()
def cors(tmp_path: Path, content_runtime: Runtime) -> Iterator[TestClient]:
    with client_for(tmp_path, content_runtime) as http:
        yield http


def test_allowed_origin_gets_cors_headers_without_credentials(cors: TestClient) -> None:
    for response in (
        cors.get("/v1/articles", headers={"Origin": SITE}),
        cors.post("/v1/chat", json={"message": "what is rag"}, headers={"Origin": SITE}),
        cors.post(
            "/v1/feedback",
            json={"conversation_id": "c-1", "rating": "up"},
            headers={"Origin": SITE},
        ),
    ):
        assert response.status_code in (200, 201)
        assert response.headers["access-control-allow-origin"] == SITE
        assert "access-control-allow-credentials" not in response.headers
        exposed = response.headers["access-control-expose-headers"].lower()
        assert "retry-after" in exposed


@pytest.mark.parametrize("origin", [OTHER, SITE + ":8443", "http://docs.customer.example", "null"])
def test_other_origins_get_no_cors_headers(cors: TestClient, origin: str) -> None:
    response = cors.post("/v1/chat", json={"message": "what is rag"}, headers={"Origin": origin})
    assert "access-control-allow-origin" not in response.headers
    preflight = cors.options(
        "/v1/chat",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    # Refused like every other error: a problem document, not Starlette's plain text.
    assert preflight.headers["content-type"] == "application/problem+json"
    problem = preflight.json()
    assert problem["status"] == 400 and problem["type"].endswith("/cors-refused")
    assert "KB_ALLOWED_ORIGINS" in problem["detail"] and problem["request_id"]


def test_a_refused_preflight_is_logged_once_with_the_setting(
    cors: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="service.cors")
    headers = {"Origin": OTHER, "Access-Control-Request-Method": "POST"}
    for _ in range(3):
        assert cors.options("/v1/chat", headers=headers).status_code == 400
    warnings = [r.getMessage() for r in caplog.records if r.name == "service.cors"]
    assert len(warnings) == 1
    assert OTHER in warnings[0] and "KB_ALLOWED_ORIGINS" in warnings[0]


def test_preflight_from_an_allowed_origin(cors: TestClient) -> None:
    for path in ("/v1/chat", "/v1/feedback"):
        response = cors.options(
            path,
            headers={
                "Origin": SITE,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == SITE
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "content-type" in response.headers["access-control-allow-headers"].lower()
        assert int(response.headers["access-control-max-age"]) > 0
        assert "access-control-allow-credentials" not in response.headers


def test_no_origins_configured_means_no_browser_access(
    tmp_path: Path, content_runtime: Runtime
) -> None:
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings, runtime=content_runtime, sync_on_start=False)) as http:
        response = http.get("/v1/articles", headers={"Origin": SITE})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_allowed_origins_parse_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KB_ALLOWED_ORIGINS", f"{SITE}/, http://localhost:3000")
    assert make_settings(tmp_path).allowed_origins == [SITE, "http://localhost:3000"]
    monkeypatch.setenv("KB_ALLOWED_ORIGINS", f'["{SITE}"]')
    assert make_settings(tmp_path).allowed_origins == [SITE]


def test_rate_limit_answers_429_problem_with_retry_after(
    tmp_path: Path, content_runtime: Runtime
) -> None:
    with client_for(tmp_path, content_runtime, rate_limit_per_minute=6, rate_limit_burst=3) as http:
        statuses = [
            http.get("/v1/search", params={"q": "rag"}, headers={"Origin": SITE}).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 200]
        limited = http.get("/v1/search", params={"q": "rag"}, headers={"Origin": SITE})
        assert limited.status_code == 429
        assert limited.headers["content-type"] == "application/problem+json"
        retry_after = int(limited.headers["retry-after"])
        assert 1 <= retry_after <= 30  # 3 requests per 30 s window
        problem = limited.json()
        assert problem["status"] == 429 and problem["title"] == "Too Many Requests"
        assert problem["type"].endswith("/rate-limited") and problem["instance"] == "/v1/search"
        # The widget can read the status and Retry-After across origins.
        assert limited.headers["access-control-allow-origin"] == SITE
        # Every public API route shares the client's bucket...
        assert http.post("/v1/chat", json={"message": "hi"}).status_code == 429
        assert (
            http.post("/v1/feedback", json={"conversation_id": "c", "rating": "up"}).status_code
            == 429
        )
        # ...and so do the demo site's pages and the dashboard (the owner's token aside)...
        for path in ("/learn/fine-tuning-cost", "/admin", "/v1/admin/analytics"):
            assert http.get(path).status_code == 429, path
        # ...while probes, the widget script and preflights are never limited.
        for path in ("/healthz", "/widget.js", "/"):
            assert http.get(path).status_code == 200, path
        preflight = http.options(
            "/v1/chat",
            headers={"Origin": SITE, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200


def search_as(base: str, forwarded_for: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return httpx.get(f"{base}/v1/search", params={"q": "rag"}, headers=headers).status_code


def test_forged_forwarded_for_does_not_rotate_identity(
    tmp_path: Path, content_runtime: Runtime
) -> None:
    """Issue #13, item 3: behind `kb serve` on the defaults (no trusted proxies), a client
    on the same host rotating X-Forwarded-For is still one client: 429 from request 21."""
    settings = make_settings(tmp_path, rate_limit_per_minute=60, rate_limit_burst=20)
    assert uvicorn_config(object(), settings).proxy_headers is False
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with serve(app) as base:
        statuses = [search_as(base, f"198.51.100.{i}") for i in range(30)]
    assert statuses.count(200) == 20 and statuses[20:] == [429] * 10


def test_trusted_proxy_names_the_rightmost_untrusted_hop(
    tmp_path: Path, content_runtime: Runtime
) -> None:
    settings = make_settings(
        tmp_path, rate_limit_per_minute=1, rate_limit_burst=1, trusted_proxies=["127.0.0.1"]
    )
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with serve(app) as base:
        assert search_as(base, "203.0.113.1") == 200
        assert search_as(base, "203.0.113.1") == 429
        assert search_as(base, "203.0.113.2") == 200  # another visitor behind the proxy
        # A client cannot pick its identity by writing the leftmost hop itself: the proxy
        # appends the address it saw, and that is the client.
        assert search_as(base, "192.0.2.77, 203.0.113.2") == 429
        assert search_as(base, "192.0.2.78, 203.0.113.1") == 429


def test_trusted_proxies_must_be_addresses(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        make_settings(tmp_path, trusted_proxies=["proxy.local"])
    assert make_settings(tmp_path, trusted_proxies=["10.0.0.0/8"]).trusted_proxies == ["10.0.0.0/8"]


def test_the_operators_token_is_never_limited_and_mcp_has_its_own_budget(
    tmp_path: Path, content_runtime: Runtime
) -> None:
    admin = "operator-admin-token-0123"
    with client_for(
        tmp_path, content_runtime, rate_limit_per_minute=6, rate_limit_burst=3, admin_token=admin
    ) as http:
        state = http.app.state.kb  # type: ignore[attr-defined]
        visitor = [http.get("/v1/articles").status_code for _ in range(5)]
        assert visitor == [200, 200, 200, 429, 429]
        owner = {"Authorization": f"Bearer {admin}"}
        assert {http.get("/v1/articles", headers=owner).status_code for _ in range(10)} == {200}
        assert http.get("/v1/admin/analytics", headers=owner).status_code == 200
        # The runtime file's token counts from this machine only (TestClient is not loopback).
        local = {"Authorization": f"Bearer {state.local_token}"}
        assert http.get("/v1/articles", headers=local).status_code == 429
        forged = {"Authorization": "Bearer not-the-token"}
        assert http.get("/v1/articles", headers=forged).status_code == 429
    with client_for(tmp_path, content_runtime, rate_limit_per_minute=6, rate_limit_burst=3) as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        headers = {"Accept": "application/json, text/event-stream"}
        mcp = [http.post("/mcp", json=body, headers=headers).status_code for _ in range(16)]
        assert 429 not in mcp[:15] and mcp[15] == 429  # 5 x the burst of 3
        assert http.get("/v1/articles").status_code == 200  # a bucket of its own


def test_the_runtime_files_token_is_not_limited_from_this_machine(
    tmp_path: Path, content_runtime: Runtime
) -> None:
    settings = make_settings(tmp_path, rate_limit_per_minute=6, rate_limit_burst=3)
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    local = {"Authorization": f"Bearer {app.state.kb.local_token}"}
    with serve(app) as base:
        visitors = [httpx.get(f"{base}/v1/articles").status_code for _ in range(4)]
        operator = [httpx.get(f"{base}/v1/articles", headers=local).status_code for _ in range(8)]
    assert visitors[-1] == 429 and set(operator) == {200}
