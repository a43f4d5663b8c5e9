"""`kb eval`: metric names, thresholds as an exit code, and diffs between runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kbcli.evaluate import METRICS
from tests.ingest.test_build import write

ROOT = Path(__file__).resolve().parents[2]


def golden_file(path: Path) -> Path:
    rows = [
        {
            "id": "a1",
            "question": "How does chunking split documents?",
            "answerable": True,
            "article": "alpha",
            "anchor": "first-topic",
            "facts": ["passages"],
            "follow_up_of": None,
        },
        {
            "id": "b1",
            "question": "What do embeddings map text to?",
            "answerable": True,
            "article": "beta",
            "anchor": "first-topic",
            "facts": ["vectors"],
            "follow_up_of": None,
        },
        {
            "id": "u1",
            "question": "What is the capital of Australia?",
            "answerable": False,
            "article": "",
            "anchor": "",
            "facts": [],
            "follow_up_of": None,
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run_eval(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KB_CONTENT_DIR": str(tmp_path / "content"), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kbcli.main",
            "eval",
            "--golden",
            str(tmp_path / "golden.jsonl"),
            "--thresholds",
            str(tmp_path / "thresholds.toml"),
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_eval_json_has_every_metric_and_thresholds_decide_the_exit_code(tmp_path: Path) -> None:
    write(tmp_path / "content", "alpha", first="Chunking splits long documents into passages.")
    write(tmp_path / "content", "beta", first="Embeddings map text to vectors for search.")
    golden_file(tmp_path / "golden.jsonl")
    (tmp_path / "thresholds.toml").write_text(
        "[min]\nhit_at_1 = 0.5\n[max]\nfalse_refusal_rate = 0.5\n"
    )
    passed = run_eval(tmp_path, "--json", "--save", str(tmp_path / "base.json"))
    assert passed.returncode == 0, passed.stderr
    body = json.loads(passed.stdout.strip().splitlines()[-1])
    assert set(METRICS) <= body.keys()
    assert body["hit_at_1"] == 1.0 and body["answer_in_context"] == 1.0
    assert body["citation_validity"] == 1.0 and body["counts"]["questions"] == 3
    assert body["passed"] is True

    (tmp_path / "thresholds.toml").write_text("[min]\nhit_at_1 = 1.01\n")
    failed = run_eval(tmp_path)
    assert failed.returncode == 1 and "FAIL" in failed.stdout and "hit_at_1" in failed.stdout


def test_eval_diff_lists_questions_whose_answers_changed(tmp_path: Path) -> None:
    write(tmp_path / "content", "alpha", first="Chunking splits long documents into passages.")
    write(tmp_path / "content", "beta", first="Embeddings map text to vectors for search.")
    golden_file(tmp_path / "golden.jsonl")
    (tmp_path / "thresholds.toml").write_text("")
    assert run_eval(tmp_path, "--save", str(tmp_path / "base.json")).returncode == 0
    write(tmp_path / "content", "beta", first="Embeddings map text to dense numeric vectors.")
    result = run_eval(tmp_path, "--json", "--diff", str(tmp_path / "base.json"))
    changes = {
        c["id"]: c["change"] for c in json.loads(result.stdout.strip().splitlines()[-1])["changes"]
    }
    assert "answer text changed" in changes["b1"]
    assert "u1" not in changes  # still refused, nothing changed
