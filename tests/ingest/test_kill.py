"""A rebuild killed with SIGKILL leaves the old version serving; the next run succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.runtime import Runtime
from kbcore.versions import list_versions
from tests.conftest import make_settings
from tests.ingest.test_build import write

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_mid_build_keeps_old_version_and_next_run_recovers(
    tmp_path: Path, embedder: OnnxMiniLM
) -> None:
    content = tmp_path / "content"
    write(content, "alpha", first="Chunking splits long documents into passages.")
    settings = make_settings(tmp_path, content_dir=content)
    runtime = Runtime.open(settings, embedder=embedder)
    from ingest.runner import ingest

    first = ingest(runtime)
    runtime.close()
    for n in range(300):  # enough work that the build is still embedding when killed
        write(content, f"bulk-{n}", first=f"Bulk article {n} about retrieval topic {n * 7}.")
    env = {
        **os.environ,
        "KB_CONTENT_DIR": str(content),
        "KB_DATA_DIR": str(settings.data_dir),
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "kbcli.main", "-v", "ingest"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    for line in process.stderr:
        if "building index version" in line:
            break
        assert time.monotonic() < deadline, "the build never started"
    time.sleep(1.0)
    assert process.poll() is None, "the build finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    reopened = Runtime.open(settings, embedder=embedder)
    try:
        assert reopened.store.serving() == first.index_version
        versions = list_versions(reopened.store)
        unfinished = [v for v in versions if v.manifest is None or v.manifest.status != "ready"]
        assert unfinished, "the killed build left no trace to clean up"
        hits = reopened.retriever.search("chunking passages", k=3).hits
        assert hits and hits[0].article == "alpha"

        report = ingest(reopened)
        assert report.switched and report.articles == 301
        after = list_versions(reopened.store)
        assert all(v.manifest is not None and v.manifest.status == "ready" for v in after)
        assert {h.article for h in reopened.retriever.search("bulk article 42", k=5).hits} & {
            "bulk-42"
        }
    finally:
        reopened.close()
