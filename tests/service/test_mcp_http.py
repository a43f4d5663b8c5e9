"""``/mcp`` over real HTTP: the app served by uvicorn, the MCP SDK's Streamable HTTP client,
the lifespan that runs the session manager, the token, the Host/Origin checks and rate
limiting."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from kbcore.runtime import Runtime
from service.app import create_app
from service.mcp_server.transport import transport_security
from tests.conftest import make_settings
from tests.e2e.conftest import serve
from tests.stubs.openai_stub import free_port

TOKEN = "mcp-token-0123456789abcdef"
ALLOWED_ORIGIN = "https://docs.example.com"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def kb(content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    settings = make_settings(
        tmp_path_factory.mktemp("mcp-http"),
        mcp_token=TOKEN,
        allowed_origins=[ALLOWED_ORIGIN],
        port=port,
    )
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with serve(app, port) as url:
        yield url


def sdk_call(url: str, token: str | None, tool: str, arguments: dict[str, Any]) -> Any:
    async def run() -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
        ):
            tools = await client.list_tools()
            result = await client.call_tool(tool, arguments)
            return {t.name for t in tools.tools}, result

    # In a thread of its own: Playwright's sync API keeps an event loop running in the main
    # thread once a browser test has run in this session.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def test_sdk_client_over_http_lists_and_calls_tools(kb: str) -> None:
    names, result = sdk_call(kb, TOKEN, "ask", {"question": "How much does fine-tuning cost?"})
    assert names == {"search_docs", "ask", "get_article", "list_articles"}
    body = result.structured_content
    assert not result.is_error and body["grounded"] and body["citations"]
    # Links are absolute, on the address the client used.
    assert all(c["url"].startswith(f"{kb}/learn/") for c in body["citations"])


def test_requests_without_the_token_are_refused(kb: str) -> None:
    wrong = "Bearer wrong-token-0123456789"
    for headers in ({}, {"Authorization": wrong}, {"Authorization": TOKEN}):
        response = httpx.post(f"{kb}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **headers})
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"].startswith("application/problem+json")
    with pytest.raises(ExceptionGroup) as refused:
        sdk_call(kb, None, "list_articles", {})
    assert refused.group_contains(MCPError)


def test_the_token_opens_the_endpoint(kb: str) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    response = httpx.post(f"{kb}/mcp", json=INITIALIZE, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["serverInfo"]["name"] == "kb-chat"


def test_only_post_is_served_no_stream_is_held_open(kb: str) -> None:
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {TOKEN}"}
    for method in ("GET", "DELETE"):
        response = httpx.request(method, f"{kb}/mcp", headers=headers, timeout=10)
        assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_host_header_not_naming_this_service_is_refused(kb: str) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    port = kb.rsplit(":", 1)[1]
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.2:{port}"):
        response = httpx.post(f"{kb}/mcp", json=INITIALIZE, headers={**headers, "Host": host})
        assert response.status_code == 421, host
        assert response.headers["content-type"] == "application/problem+json"
        assert "KB_PUBLIC_BASE_URL" in response.json()["detail"]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        response = httpx.post(f"{kb}/mcp", json=INITIALIZE, headers={**headers, "Host": host})
        assert response.status_code == 200, host


def test_browser_origins_must_be_allowed(kb: str) -> None:
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    refused = httpx.post(
        f"{kb}/mcp", json=INITIALIZE, headers={**headers, "Origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "KB_ALLOWED_ORIGINS" in refused.json()["detail"]
    allowed_headers = {**headers, "Origin": ALLOWED_ORIGIN}
    allowed = httpx.post(f"{kb}/mcp", json=INITIALIZE, headers=allowed_headers)
    assert allowed.status_code == 200


def test_mcp_is_rate_limited_with_five_times_the_apis_budget(
    content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = make_settings(
        tmp_path_factory.mktemp("mcp-limit"), rate_limit_per_minute=1, rate_limit_burst=2
    )
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with TestClient(app, base_url="http://localhost") as http:
        statuses = [
            http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS).status_code for _ in range(11)
        ]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429  # an MCP call is ~5 requests


def test_mcp_answers_503_outside_the_lifespan(
    content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = make_settings(tmp_path_factory.mktemp("mcp-nolife"))
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    http = TestClient(app, base_url="http://localhost")  # not entered: no lifespan
    response = http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
    assert response.status_code == 503 and "retry-after" in response.headers


def test_each_lifespan_runs_its_own_session_manager(
    content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = make_settings(tmp_path_factory.mktemp("mcp-twice"))
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    for _ in range(2):  # the SDK's manager runs once; the app starts a new one each time
        with TestClient(app, base_url="http://localhost") as http:
            response = http.post("/mcp", json=INITIALIZE, headers=MCP_HEADERS)
            assert response.status_code == 200, response.text


def test_allowed_hosts_and_origins_come_from_the_settings(tmp_path: Path) -> None:
    local = transport_security(make_settings(tmp_path))
    assert {"127.0.0.1:*", "localhost:*", "[::1]:*", "localhost"} <= set(local.allowed_hosts)
    assert local.allowed_origins == [] and local.enable_dns_rebinding_protection
    public = transport_security(
        make_settings(
            tmp_path,
            host="0.0.0.0",
            public_base_url="https://kb.example.com",
            allowed_origins=["https://docs.example.com"],
        )
    )
    assert {"kb.example.com", "kb.example.com:*"} <= set(public.allowed_hosts)
    assert not any(h.startswith("0.0.0.0") for h in public.allowed_hosts)
    assert public.allowed_origins == ["https://docs.example.com", "https://kb.example.com"]
    bound = transport_security(make_settings(tmp_path, host="10.0.0.5", port=9000))
    assert {"10.0.0.5", "10.0.0.5:*"} <= set(bound.allowed_hosts)
