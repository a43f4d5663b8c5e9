"""tests/balancer.py: round robin, failover like nginx's proxy_next_upstream, streaming."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.balancer import Balancer

pytestmark = pytest.mark.timeout(30)


class _Backend(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.name = name
        # /stream sends its second event only once the test saw the first one.
        self.release = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    server: _Backend

    def do_GET(self) -> None:
        if self.path == "/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"data: first\n\n")
            self.wfile.flush()
            self.server.release.wait(5)
            self.wfile.write(b"data: second\n\n")
            self.close_connection = True
            return
        body = f"{self.server.name} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backends() -> Iterator[list[_Backend]]:
    servers = [_Backend("A"), _Backend("B")]
    threads = [threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    yield servers
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A port nothing listens on (connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(lb: Balancer, path: str = "/") -> str:
    conn = http.client.HTTPConnection(lb.host, lb.port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200
        return response.read().decode()
    finally:
        conn.close()


def test_connections_go_round_robin(backends: list[_Backend]) -> None:
    a, b = backends
    with Balancer([a.address, b.address]) as lb:
        assert lb.url == f"http://127.0.0.1:{lb.port}"
        served = [get(lb, f"/{i}").split()[0] for i in range(4)]
        assert served == ["A", "B", "A", "B"]
        assert lb.counts == {Balancer.key(a.address): 2, Balancer.key(b.address): 2}
        assert lb.failed_connects == 0


def test_keep_alive_stays_on_one_backend(backends: list[_Backend]) -> None:
    a, b = backends
    with Balancer([a.address, b.address]) as lb:
        conn = http.client.HTTPConnection(lb.host, lb.port, timeout=5)
        bodies = []
        for i in range(3):
            conn.request("GET", f"/{i}")
            bodies.append(conn.getresponse().read().decode())
        conn.close()
        assert bodies == ["A /0", "A /1", "A /2"]  # one connection, three requests
        assert lb.counts[Balancer.key(a.address)] == 1
        assert get(lb).startswith("B")  # the next connection goes to the next backend


def test_a_backend_that_is_down_is_skipped(backends: list[_Backend]) -> None:
    _, b = backends
    down = ("127.0.0.1", closed_port())
    with Balancer([down, b.address]) as lb:
        assert [get(lb).split()[0] for _ in range(3)] == ["B", "B", "B"]
        assert lb.counts == {Balancer.key(down): 0, Balancer.key(b.address): 3}
        # turns 1 and 3 start at the dead backend and move on; turn 2 starts at B
        assert lb.failures[Balancer.key(down)] == lb.failed_connects == 2
        assert lb.rejected == 0


def test_the_client_is_closed_when_every_backend_is_down() -> None:
    dead = [("127.0.0.1", closed_port()), ("127.0.0.1", closed_port())]
    with Balancer(dead) as lb, socket.create_connection((lb.host, lb.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(1024) == b""  # closed without an answer
        assert lb.failed_connects == 2
        assert lb.rejected == 1


def test_a_stream_passes_through_as_it_is_written(backends: list[_Backend]) -> None:
    a, _ = backends
    with (
        Balancer([a.address]) as lb,
        socket.create_connection((lb.host, lb.port), timeout=5) as sock,
    ):
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b"data: first" not in received:
            chunk = sock.recv(4096)
            assert chunk, "closed before the first event"
            received += chunk
        # The backend holds the second event back until now: the first came through alone.
        assert b"second" not in received
        a.release.set()
        while chunk := sock.recv(4096):
            received += chunk
        assert received.startswith(b"HTTP/1.1 200 ")
        assert received.endswith(b"data: first\n\ndata: second\n\n")


def test_stop_is_idempotent_and_closes_open_connections(backends: list[_Backend]) -> None:
    a, _ = backends
    lb = Balancer([a.address]).start()
    conn = http.client.HTTPConnection(lb.host, lb.port, timeout=5)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"A /"
    lb.stop()
    lb.stop()
    with pytest.raises((http.client.HTTPException, OSError)):  # the kept-alive pipe is gone
        conn.request("GET", "/again")
        conn.getresponse()
    conn.close()
    with pytest.raises(OSError):
        socket.create_connection((lb.host, lb.port), timeout=2).close()
    with pytest.raises(RuntimeError):
        lb.start()


def test_no_backends_is_an_error() -> None:
    with pytest.raises(ValueError):
        Balancer([])
