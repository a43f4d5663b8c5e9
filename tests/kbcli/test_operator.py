"""Operating `kb serve` from a terminal (issue #13, items 7 and 12): it tells what it does
at INFO by default, one line each; the README's commands work in a second terminal while
it runs (through the runtime file it leaves in the data folder); a damaged index is one
clear line, never a traceback, and `kb ingest --rebuild` repairs it."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.kbcli.conftest import ARTICLE, kb


def test_serve_logs_its_progress_and_requests_by_default(
    server: tuple[str, Path], env: dict[str, str]
) -> None:
    url, log = server
    httpx.get(f"{url}/v1/search", params={"q": "chunking"}, headers={"X-Request-ID": "rq-7"})
    deadline = time.monotonic() + 10
    while "rq-7" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = log.read_text()
    for line in (
        "parsed 1 files (gfm: no generator config and no generator syntax found; plain "
        "GitHub Markdown): 1 articles",
        "chunks/s)",  # embedded N chunks in S s (R chunks/s)
        "switched to index version",
        f"ready at {url}: serving index version",
        "GET /v1/search 200",
    ):
        assert line in text, line
    # No URL before the service can answer: the first line naming it is the ready line.
    assert "Uvicorn running on" not in text
    first_url = next(line for line in text.splitlines() if url in line)
    assert "ready at" in first_url, first_url
    assert text.index("indexing 1 files from") < text.index("ready at")
    request = next(line for line in text.splitlines() if "GET /v1/search" in line)
    assert "[rq-7]" in request and "INFO" in request
    assert "Traceback" not in text


def test_cli_commands_use_the_running_server(server: tuple[str, Path], env: dict[str, str]) -> None:
    """Item 12: every command failed with "embedded index in use" while the server ran."""
    url, _ = server
    runtime_file = Path(env["KB_DATA_DIR"]) / "server.json"
    assert stat.S_IMODE(runtime_file.stat().st_mode) == 0o600
    info = json.loads(runtime_file.read_text())
    assert info["url"] == url and len(info["token"]) >= 32

    searched = kb(["search", "chunking", "--json"], env)
    assert searched.returncode == 0, searched.stderr
    assert json.loads(searched.stdout)["hits"][0]["article"] == "chunking"
    asked = kb(["ask", "What does chunking do?", "--json"], env)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["grounded"] is True
    listed = kb(["index", "list", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    assert sum(v["serving"] for v in json.loads(listed.stdout)["versions"]) == 1

    content = Path(env["KB_CONTENT_DIR"])
    (content / "embeddings.md").write_text(
        ARTICLE.format(title="Embeddings", body="Embeddings map passages to vectors.")
    )
    ingested = kb(["ingest"], env)
    assert ingested.returncode == 0, ingested.stderr
    assert "asking the running server" in ingested.stderr
    assert "2 articles" in ingested.stdout and "switched to" in ingested.stdout
    articles = httpx.get(f"{url}/v1/articles").json()["articles"]
    assert {a["slug"] for a in articles} == {"chunking", "embeddings"}

    # The local token opens the operator routes only; never the feedback listing.
    token = {"Authorization": f"Bearer {info['token']}"}
    assert httpx.get(f"{url}/v1/admin/index", headers=token).status_code == 200
    assert httpx.get(f"{url}/v1/admin/feedback", headers=token).status_code == 404
    assert httpx.get(f"{url}/v1/admin/index").status_code == 404  # no admin token set


def test_runtime_file_goes_with_the_server(env: dict[str, str], tmp_path: Path) -> None:
    runtime_file = Path(env["KB_DATA_DIR"]) / "server.json"
    runtime_file.parent.mkdir(parents=True)
    # A file left by a process that is gone (killed) is ignored: the CLI works locally.
    runtime_file.write_text(json.dumps({"url": "http://127.0.0.1:9", "token": "x", "pid": 2**22}))
    assert kb(["ingest"], env).returncode == 0
    assert not runtime_file.exists()
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "kbcli.main", "serve"], env=env, stderr=sink, stdout=sink
        )
    try:
        deadline = time.monotonic() + 120
        while not runtime_file.exists():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert not runtime_file.exists()  # removed on a clean shutdown


def test_damaged_index_is_one_clear_line_and_rebuild_repairs_it(env: dict[str, str]) -> None:
    """Item 7: a damaged index file gave a raw JSONDecodeError and a traceback."""
    assert kb(["ingest"], env).returncode == 0
    index = Path(env["KB_DATA_DIR"]) / "index"
    version = (index / "SERVING").read_text().strip()
    manifest = index / "versions" / version / "manifest.json"
    pointer = index / "SERVING"

    def one_clear_line(args: list[str], names: Path) -> None:
        result = kb(args, env)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        # Named relative to the data folder: the same message may reach a visitor's 503.
        assert str(names.relative_to(index)) in lines[0] and "kb ingest --rebuild" in lines[0]
        assert str(index) not in lines[0]

    pointer.write_text("20990101t000000-gone\n")
    for args in (["search", "chunking"], ["ask", "what is chunking?"], ["index", "list"]):
        one_clear_line(args, pointer)
    pointer.write_text(version + "\n")
    manifest.write_text("{not json")
    for args in (["index", "list"], ["ingest"]):
        one_clear_line(args, manifest)
    repaired = kb(["ingest", "--rebuild"], env)
    assert repaired.returncode == 0, repaired.stderr
    assert kb(["search", "chunking"], env).returncode == 0
