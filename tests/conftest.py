"""Shared fixtures: the real embedding model and a real (in-memory) Qdrant index of content/.

Expensive objects are session-scoped; tests that change an index build their own.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.runner import ingest
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.runtime import Runtime
from kbcore.settings import Settings
from tests.postgres_server import PostgresServer, require_postgres, start_postgres

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
GOLDEN = ROOT / "eval" / "golden.jsonl"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Tests never reach a real LLM or read a developer's .env by accident.
for _name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def embedder() -> OnnxMiniLM:
    return OnnxMiniLM()


@pytest.fixture(scope="session")
def golden() -> list[dict[str, Any]]:
    return [json.loads(line) for line in GOLDEN.read_text().splitlines() if line.strip()]


def eventually(condition: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    """Wait until ``condition`` holds (polled every 0.1 s), failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not in {timeout} s: {what}"
        time.sleep(0.1)


def reindexes(metrics: str, trigger: str) -> float:
    """Succeeded reindex jobs of ``trigger`` in a ``/metrics`` text (0 when none ran)."""
    prefix = f'kb_reindex_jobs_total{{result="succeeded",trigger="{trigger}"}} '
    for line in metrics.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings isolated in ``tmp`` (content defaults to the real content/)."""
    values: dict[str, Any] = {
        "content_dir": CONTENT,
        "data_dir": tmp / "data",
        "rate_limit_per_minute": 0,  # tests that check limiting turn it on
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def content_runtime(
    embedder: OnnxMiniLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runtime]:
    """content/ indexed once into an in-memory Qdrant, shared read-only by tests."""
    settings = make_settings(tmp_path_factory.mktemp("content-index"))
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    report = ingest(runtime)
    assert report.warnings == [] and report.switched
    assert [s.path for s in report.skipped] == ["README.md"]
    yield runtime
    runtime.close()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (fsync off: tests only, never benches).

    Skips without the server binaries, unless KB_REQUIRE_POSTGRES=1 (CI) makes that a failure.
    """
    require_postgres()
    server = start_postgres(tmp_path_factory.mktemp("postgres"), fast=True)
    yield server
    server.destroy()


@pytest.fixture()
def database_url(postgres: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a new, empty database on the session server; dropped afterwards."""
    url = postgres.fresh_database()
    yield url
    postgres.drop_database(url.rsplit("/", 1)[1])
