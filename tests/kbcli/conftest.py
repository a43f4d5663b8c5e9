"""A `kb` command line and a `kb serve` process, each in its own process, as an operator
runs them in two terminals."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.stubs.openai_stub import free_port

ARTICLE = "---\ntitle: {title}\ntags: [guides]\n---\n\n# {title}\n\n## Overview\n\n{body}\n"


def kb(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kbcli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    content = tmp_path / "content"
    content.mkdir()
    (content / "chunking.md").write_text(
        ARTICLE.format(title="Chunking", body="Chunking splits long documents into passages.")
    )
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KB_", "OPENAI_"))},
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "KB_CONTENT_DIR": str(content),
        "KB_DATA_DIR": str(tmp_path / "data"),
        "KB_CANARY_FILE": str(tmp_path / "none"),
        "KB_PORT": str(free_port()),
    }


@pytest.fixture()
def server(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`kb serve` in its own process; yields its URL and its log file."""
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "kbcli.main", "serve"], env=env, stderr=sink, stdout=sink
        )
    url = f"http://127.0.0.1:{env['KB_PORT']}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    try:
        yield url, log
    finally:
        process.terminate()
        process.wait(timeout=30)
