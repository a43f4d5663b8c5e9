"""Several `kb serve` processes on one machine sharing one PostgreSQL database, each with
its own data folder (an embedded index each), behind the round-robin balancer: what the
replica tests and ``bench/replicas.py`` run.

    with ReplicaSet(base_env, database_url, tmp, count=2) as replicas:
        httpx.post(f"{replicas.balancer.url}/v1/chat", json={"message": "..."})
        replicas[0].kill()  # SIGKILL, as a crashed container
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from tests.balancer import Balancer
from tests.stubs.openai_stub import free_port

ADMIN_TOKEN = "replicas-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass
class Replica:
    """One `kb serve --watch` process; ``start`` again on the same or a fresh folder."""

    name: str
    env: dict[str, str]
    data_dir: Path
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True, timeout: float = 180) -> Self:
        env = {**self.env, "KB_DATA_DIR": str(self.data_dir), "KB_PORT": str(self.port)}
        with self.log.open("a") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "kbcli.main", "serve", "--watch"],
                env=env,
                stdout=sink,
                stderr=sink,
            )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not ready:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, headers=AUTH, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing queued is flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def replica_env(content: Path, database_url: str, **extra: str) -> dict[str, str]:
    """The environment every replica shares (its data folder and port are its own)."""
    root = Path(__file__).resolve().parents[1]
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KB_", "OPENAI_"))},
        "PYTHONPATH": str(root),
        "HF_HUB_OFFLINE": "1",
        "KB_CONTENT_DIR": str(content),
        "KB_DATABASE_URL": database_url,
        "KB_ADMIN_TOKEN": ADMIN_TOKEN,
        "KB_CANARY_FILE": str(content.parent / "no-canary"),
        "KB_GOLDEN_FILE": str(content.parent / "golden.jsonl"),  # never the repository's
        "KB_RATE_LIMIT_PER_MINUTE": "0",
        "KB_REPLICA_POLL_S": "0.5",
        "KB_WATCH_DEBOUNCE_MS": "300",
        **extra,
    }


class ReplicaSet:
    """``count`` replicas started together, and a balancer in front of them."""

    def __init__(self, env: dict[str, str], base: Path, count: int = 2) -> None:
        self.replicas = [
            Replica(f"replica-{n}", env, base / f"data-{n}", base / f"replica-{n}.log")
            for n in range(count)
        ]
        self.balancer = Balancer([("127.0.0.1", r.port) for r in self.replicas])

    def __getitem__(self, index: int) -> Replica:
        return self.replicas[index]

    def __enter__(self) -> Self:
        for replica in self.replicas:
            replica.start(wait=False)
        for replica in self.replicas:
            replica.wait_ready()
        self.balancer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.balancer.stop()
        for replica in self.replicas:
            replica.stop()
