"""A full disk under the data folder (issue #22, item 2): answers go on, lost log rows
and refused feedback are counted, /readyz reports what is wrong and stays 200 (the log
and feedback are extras, not a reason to leave the balancer), and both resume by
themselves once space returns. A real full file system: a 2 MB tmpfs mounted for the
test (root only, which CI is)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import make_settings

QUESTIONS = [
    "How much does fine-tuning cost?",
    "What is LoRA?",
    "Does fine-tuning reduce hallucination?",
    "What is retrieval-augmented generation?",
    "How big should a chunk be?",
]


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "data"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Write a file until the file system refuses: the disk is full."""
    filler = folder / "filler"
    block = os.urandom(64 * 1024)
    with filler.open("wb") as sink:
        try:
            while True:
                sink.write(block)
                sink.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with contextlib.suppress(OSError), filler.open("ab") as sink:  # the last partial block
        while True:
            sink.write(b"x" * 512)
            sink.flush()
    return filler


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.MULTILINE)
    assert found, name
    return float(found.group(1))


def test_a_full_disk_loses_log_rows_never_answers_and_recovers(
    small_disk: Path, tmp_path: Path, content_runtime: Runtime
) -> None:
    settings = make_settings(tmp_path, data_dir=small_disk, admin_token="full-disk-token-1")
    with TestClient(create_app(settings, runtime=content_runtime, sync_on_start=False)) as http:
        log = http.app.state.kb.conversation_log()  # type: ignore[attr-defined]
        first = http.post("/v1/chat", json={"message": QUESTIONS[0]}).json()
        rating = {"conversation_id": first["conversation_id"], "rating": "up"}
        assert http.post("/v1/feedback", json=rating).status_code == 201
        assert log.flush() and log.writer.stats.written == 1

        filler = fill(small_disk)
        for round_ in range(6):
            for question in QUESTIONS:
                asked = http.post("/v1/chat", json={"message": f"{question} ({round_})"})
                assert asked.status_code == 200 and asked.json()["answer"]
        assert log.flush()
        metrics = http.get("/metrics").text
        dropped = metric(metrics, 'kb_conversation_log_rows_total{outcome="dropped"}')
        assert dropped >= 1 and metric(metrics, "kb_conversation_log_failing") == 1.0
        refused = http.post("/v1/feedback", json=rating)
        assert refused.status_code == 503
        assert refused.headers["content-type"].startswith("application/problem+json")
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "degraded"
        components = {p["component"]: p["detail"] for p in ready.json()["problems"]}
        for component in ("feedback", "conversation_log"):
            assert "the disk is full" in components[component], components
        assert str(small_disk) not in ready.text

        filler.unlink()  # space returns
        written = log.writer.stats.written
        assert http.post("/v1/chat", json={"message": QUESTIONS[1]}).status_code == 200
        assert log.flush() and log.writer.stats.written == written + 1
        assert http.post("/v1/feedback", json=rating).status_code == 201
        ready = http.get("/readyz").json()
        assert ready["status"] == "ready" and ready["problems"] == []
        metrics = http.get("/metrics").text
        assert metric(metrics, "kb_conversation_log_failing") == 0.0
        assert metric(metrics, "kb_feedback_failing") == 0.0
        assert metric(metrics, 'kb_conversation_log_rows_total{outcome="dropped"}') == dropped
