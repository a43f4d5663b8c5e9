"""What the HTTP benchmarks share: a free port, percentiles, and the golden questions
replayed against a running service by a pool of clients."""

from __future__ import annotations

import socket
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latencies(
    base: str, route: str, questions: list[str], concurrency: int, total: int, offset: int = 0
) -> tuple[list[float], float]:
    """``total`` requests to ``/v1/search`` or ``/v1/chat`` from ``concurrency`` clients:
    each request's latency in ms, and the wall time of all of them in s."""

    def one(i: int) -> float:
        question = questions[(offset + i) % len(questions)]
        started = time.perf_counter()
        if route == "search":
            response = client.get(f"{base}/v1/search", params={"q": question, "k": 5})
        else:
            response = client.post(f"{base}/v1/chat", json={"message": question})
        response.raise_for_status()
        return (time.perf_counter() - started) * 1000

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(timeout=120, limits=limits) as client:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            found = list(pool.map(one, range(total)))
        elapsed = time.perf_counter() - started
    return found, elapsed


def summary(found: list[float], elapsed: float) -> dict[str, float]:
    """p50 and p95 latency, and requests per second."""
    return {
        "p50_ms": statistics.median(found),
        "p95_ms": percentile(found, 0.95),
        "rps": len(found) / elapsed,
    }
