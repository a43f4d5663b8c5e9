"""One data folder per docs tree, and a CLI that never talks to the wrong server (issue
#22, item 9): an index built from another content folder is not replaced without
``--replace``; a runtime file naming a server of another data folder is ignored with a
warning; `kb analytics` and `kb mcp` find the running server or point at it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx

from tests.kbcli.conftest import ARTICLE, kb


def _versions(env: dict[str, str]) -> list[str]:
    listed = kb(["index", "list", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    return [v["index_version"] for v in json.loads(listed.stdout)["versions"]]


def test_another_content_folder_needs_replace(env: dict[str, str], tmp_path: Path) -> None:
    assert kb(["ingest"], env).returncode == 0
    before = _versions(env)
    other = tmp_path / "other-docs"
    other.mkdir()
    (other / "pricing.md").write_text(
        ARTICLE.format(title="Pricing", body="The team plan costs 40 euros a month.")
    )
    first = str(Path(env["KB_CONTENT_DIR"]).resolve())

    for command in (["ingest", "--content", str(other)], ["serve", "--content", str(other)]):
        refused = kb(command, env)
        assert refused.returncode == 2, (command, refused.stderr)
        message = refused.stderr.strip()
        assert len(message.splitlines()) == 1, message
        assert first in message and str(other.resolve()) in message, message
        assert "--replace" in message and "--data" in message, message
        assert "http://" not in refused.stdout + refused.stderr  # no URL: it never served
    assert _versions(env) == before  # nothing was replaced

    replaced = kb(["ingest", "--content", str(other), "--replace", "--json"], env)
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads(replaced.stdout)["articles"] == 1
    found = kb(["search", "team plan price", "--json"], env)
    assert json.loads(found.stdout)["hits"][0]["article"] == "pricing"
    # From now on the index belongs to the other folder; the first one is refused.
    assert kb(["ingest"], env).returncode == 2


def test_cli_ignores_a_runtime_file_of_another_server(
    server: tuple[str, Path], env: dict[str, str], tmp_path: Path
) -> None:
    """A stale runtime file whose URL now answers as another server made `kb search`
    answer from the wrong index without a word."""
    url, _ = server
    theirs = json.loads((Path(env["KB_DATA_DIR"]) / "server.json").read_text())
    mine = tmp_path / "second-data"
    mine.mkdir()
    env_mine = {**env, "KB_DATA_DIR": str(mine)}
    for token in ("a-token-that-server-never-issued-000000", theirs["token"]):
        # The pid is a live process (this test), so only asking the server can tell.
        (mine / "server.json").write_text(
            json.dumps({"url": url, "token": token, "pid": os.getpid()})
        )
        searched = kb(["search", "chunking", "--json"], env_mine)
        assert searched.returncode == 2, searched.stdout  # this folder has no index
        assert "warning: ignoring" in searched.stderr and url in searched.stderr
        assert '"hits"' not in searched.stdout
    shutil.rmtree(mine)


def test_analytics_and_mcp_find_the_running_server(
    server: tuple[str, Path], env: dict[str, str], tmp_path: Path
) -> None:
    url, _ = server
    asked = httpx.post(f"{url}/v1/chat", json={"message": "What does chunking do?"})
    assert asked.status_code == 200
    report = kb(["analytics", "--json"], env)
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["totals"]["questions"] >= 1

    editor = kb(["mcp"], env)
    assert editor.returncode == 2
    assert f"{url}/mcp" in editor.stderr and "Traceback" not in editor.stderr

    other = tmp_path / "elsewhere"
    other.mkdir()
    wrong_tree = kb(["ingest", "--content", str(other)], env)
    assert wrong_tree.returncode == 2
    assert "indexes" in wrong_tree.stderr and str(other.resolve()) in wrong_tree.stderr
