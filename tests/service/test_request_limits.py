"""What one request may cost (issue #13, items 2, 7 and 9): bounded lists and repeated
parameters, 413 for any oversize body, and read timeouts against slow clients, checked
over real sockets against uvicorn run as `kb serve` runs it."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import make_settings
from tests.e2e.conftest import serve


@pytest.fixture(scope="module")
def kb(content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = make_settings(
        tmp_path_factory.mktemp("limits"),
        header_timeout_s=1.0,
        body_timeout_s=1.0,
        max_body_bytes=4096,
    )
    with serve(create_app(settings, runtime=content_runtime, sync_on_start=False)) as url:
        yield url


def test_search_tags_are_bounded_like_chat(client: TestClient) -> None:
    """Item 2: 5,000 `tag` values held the store for seconds; now 422 beyond 10."""
    started = time.perf_counter()
    response = client.get("/v1/search", params=[("q", "lora")] + [("tag", "a")] * 5000)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert time.perf_counter() - started < 2
    too_many = client.get(
        "/v1/search", params=[("q", "lora")] + [("tag", f"t{i}") for i in range(11)]
    )
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "query.tag"
    ten = client.get("/v1/search", params=[("q", "lora")] + [("tag", "fine-tuning")] * 10)
    assert ten.status_code == 200 and ten.json()["hits"]
    assert client.get("/v1/search", params={"q": "lora", "tag": "x" * 65}).status_code == 422


def test_repeated_parameters_are_bounded_on_every_route(client: TestClient) -> None:
    for path in ("/v1/articles", "/healthz", "/learn/fine-tuning-cost", "/v1/search"):
        response = client.get(path, params=[("q", "x")] * 100)
        assert response.status_code == 422, path
        assert "too many query parameters" in response.text


def test_integer_parameters_are_bounded(client: TestClient) -> None:
    for params in ({"q": "x", "k": 10**30}, {"q": "x", "k": -1}, {"q": "x", "k": 51}):
        assert client.get("/v1/search", params=params).status_code == 422


def test_chunked_body_over_the_cap_is_413(kb: str) -> None:
    """Item 7: a chunked body over KB_MAX_BODY_BYTES got 400; now 413 like a declared one."""

    def chunks() -> Iterator[bytes]:
        yield b'{"message": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    streamed = httpx.post(
        f"{kb}/v1/chat", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.headers["content-type"] == "application/problem+json"
    assert streamed.json()["type"].endswith("/payload-too-large")
    declared = httpx.post(f"{kb}/v1/chat", content=b"x" * 5000)
    assert declared.status_code == 413


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"the server kept the connection open; read {data!r}")


def test_partial_headers_time_out(kb: str) -> None:
    """Item 9: sockets sending half a request were held forever; now 408 and closed after
    KB_HEADER_TIMEOUT_S (1 s here), and other visitors are answered meanwhile."""
    sockets = [_connect(kb) for _ in range(20)]
    started = time.monotonic()
    for sock in sockets:
        sock.sendall(b"GET /v1/articles HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    assert httpx.get(f"{kb}/healthz").status_code == 200
    for sock in sockets:
        data = _read_until_closed(sock, started + 10)
        assert data.startswith(b"HTTP/1.1 408") and b"problem+json" in data
        sock.close()
    assert time.monotonic() - started < 8


def test_idle_connection_without_a_byte_times_out(kb: str) -> None:
    sock = _connect(kb)
    started = time.monotonic()
    _read_until_closed(sock, started + 10)
    assert time.monotonic() - started < 8
    sock.close()


def test_trickled_body_times_out_with_408_problem(kb: str) -> None:
    sock = _connect(kb)
    sock.sendall(
        b"POST /v1/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 200\r\n\r\n{"message": "wh'
    )
    started = time.monotonic()
    data = _read_until_closed(sock, started + 10)
    sock.close()
    assert data.startswith(b"HTTP/1.1 408")
    assert b"application/problem+json" in data and b"request-timeout" in data
    assert time.monotonic() - started < 8


def test_settings_bound_the_timeouts(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_settings(tmp_path, header_timeout_s=0)
    with pytest.raises(ValueError):
        make_settings(tmp_path, max_body_bytes=10**12)
