"""The `kb` console script, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ingest.test_build import write

KB = [sys.executable, "-m", "kbcli.main"]


def run(
    args: list[str], env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(KB + args, env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    content = tmp_path / "content"
    write(content, "alpha", first="Chunking splits long documents into passages.")
    write(content, "beta", first="Embeddings map text to vectors for similarity search.")
    return {
        **os.environ,
        "KB_CONTENT_DIR": str(content),
        "KB_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }


def test_ingest_json_then_idempotent_rerun_then_search(env: dict[str, str]) -> None:
    first = json.loads(run(["ingest", "--json"], env).stdout.strip().splitlines()[-1])
    assert {
        "articles",
        "sections",
        "chunks",
        "embedded",
        "deleted",
        "index_version",
    } <= first.keys()
    assert first["articles"] == 2 and first["embedded"] == first["chunks"] > 0
    second = json.loads(run(["ingest", "--json"], env).stdout.strip().splitlines()[-1])
    assert second["embedded"] == 0 and second["index_version"] == first["index_version"]

    out = json.loads(run(["search", "vectors for similarity", "-k", "2", "--json"], env).stdout)
    hit = out["hits"][0]
    assert {"article", "title", "heading", "anchor", "url", "text", "score"} <= hit.keys()
    assert hit["article"] == "beta" and hit["url"] == "/learn/beta#first-topic"
    assert len(out["hits"]) == 2

    tagged = json.loads(run(["search", "vectors", "--tag", "nope", "--json"], env).stdout)
    assert tagged["hits"] == []

    human = run(["search", "chunking passages"], env).stdout
    assert "Alpha > First topic" in human and "/learn/alpha#first-topic" in human


def test_dry_run_lists_changed_sections_and_writes_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(["ingest"], env)
    write(tmp_path / "content", "alpha", first="Chunking now uses headings.")
    dry = json.loads(run(["ingest", "--dry-run", "--json"], env).stdout.strip().splitlines()[-1])
    assert dry["diff"] == {"alpha": {"added": [], "changed": ["first-topic"], "removed": []}}
    assert dry["embedded"] == 1 and dry["dry_run"]
    listed = json.loads(run(["index", "list", "--json"], env).stdout)
    assert len(listed["versions"]) == 1


def test_errors_are_one_line_without_traceback(env: dict[str, str]) -> None:
    result = run(["search", "anything"], env, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:") and "kb ingest" in result.stderr
    bad = run(["ingest"], {**env, "KB_CONTENT_DIR": "/nonexistent/folder"}, check=False)
    assert bad.returncode == 2 and "content folder does not exist" in bad.stderr
    invalid = run(["ingest"], {**env, "KB_CHUNK_TOKENS": "nine"}, check=False)
    assert invalid.returncode == 2 and "chunk_tokens" in invalid.stderr


def test_locked_embedded_folder_is_a_clear_error(env: dict[str, str]) -> None:
    run(["ingest"], env)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time; from pathlib import Path; from kbcore.stores.edge import EdgeStore; "
            f"s=EdgeStore(Path({env['KB_DATA_DIR'] + '/index'!r})); "
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = run(["ingest"], env, check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "in use by another process" in result.stderr and "kb serve" in result.stderr
    finally:
        holder.kill()
        holder.wait()


def test_ingest_json_reports_skipped_files_with_reasons_and_warnings(
    env: dict[str, str],
) -> None:
    content = Path(env["KB_CONTENT_DIR"])
    (content / "broken.md").write_text("---\ntitle: [oops\n---\nText.\n")
    (content / "undecodable.md").write_bytes(b"fine\n\xff\xfe bad\n")
    (content / "includes.md").write_text('Intro text.\n\n--8<-- "nowhere.md"\n')
    report = json.loads(run(["ingest", "--json"], env).stdout.strip().splitlines()[-1])
    assert report["files"] == 5 and report["articles"] == 3 and report["docs_format"] == "mkdocs"
    skipped = {s["path"]: s["reasons"] for s in report["skipped"]}
    assert set(skipped) == {"broken.md", "undecodable.md"}
    assert "line 2" in skipped["broken.md"][0] and "YAML" in skipped["broken.md"][0]
    assert "line(s) 2" in skipped["undecodable.md"][0]
    assert report["warnings"] == [
        {
            "path": "includes.md",
            "line": 3,
            "message": "include 'nowhere.md' was not found in the docs tree; left out",
        }
    ]
    human = run(["ingest"], env)
    assert "skipped: broken.md: line 2" in human.stderr
    assert "warning: includes.md:3: include 'nowhere.md'" in human.stderr
