"""`kb mcp`: the MCP server over stdio, launched by the MCP SDK's client as an editor would,
on an index built by `kb ingest`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from tests.ingest.test_build import write

KB = [sys.executable, "-m", "kbcli.main"]


def test_kb_mcp_serves_the_tools_over_stdio(tmp_path: Path) -> None:
    content = tmp_path / "content"
    write(content, "alpha", first="Chunking splits long documents into passages.")
    write(content, "beta", first="Embeddings map text to vectors for similarity search.")
    env = {
        **os.environ,
        "KB_CONTENT_DIR": str(content),
        "KB_DATA_DIR": str(tmp_path / "data"),
        "KB_CANARY_QUESTIONS": "0",
        "KB_SITE_URL": "https://docs.example.com",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    ingested = subprocess.run([*KB, "ingest"], env=env, capture_output=True, timeout=300)
    assert ingested.returncode == 0, ingested.stderr

    async def session() -> tuple[set[str], Any, Any]:
        params = StdioServerParameters(command=KB[0], args=[*KB[1:], "mcp"], env=env)
        async with Client(params, read_timeout_seconds=120) as client:
            tools = await client.list_tools()
            article = await client.call_tool("get_article", {"slug": "beta"})
            searched = await client.call_tool("search_docs", {"query": "vectors", "k": 1})
            return {t.name for t in tools.tools}, article, searched

    # In a thread of its own: Playwright's sync API keeps an event loop running in the main
    # thread once a browser test has run in this session.
    with ThreadPoolExecutor(max_workers=1) as pool:
        names, article, searched = pool.submit(asyncio.run, session()).result()
    assert names == {"search_docs", "ask", "get_article", "list_articles"}
    assert not article.is_error
    markdown = article.structured_content["markdown"]
    assert markdown.startswith("Beta introduction.\n\n## First topic\n")  # no front matter
    assert article.content[0].text.startswith("Source: https://docs.example.com/")
    assert article.content[0].text.endswith(f"# Beta\n\n{markdown}")
    hit = searched.structured_content["hits"][0]
    assert hit["article"] == "beta" and hit["url"].startswith("https://docs.example.com/")


def test_kb_mcp_without_an_index_is_a_one_line_error(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KB_CONTENT_DIR": str(tmp_path / "content"),
        "KB_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    result = subprocess.run([*KB, "mcp"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and "kb ingest" in result.stderr
    assert "Traceback" not in result.stderr


def test_kb_mcp_answers_every_malformed_line(tmp_path: Path) -> None:
    """Broken JSON, a lone surrogate and a non-message each get JSON-RPC's error at once
    (a client never waits forever), and the server then serves a normal session."""
    content = tmp_path / "content"
    write(content, "alpha", first="Chunking splits long documents into passages.")
    env = {
        **os.environ,
        "KB_CONTENT_DIR": str(content),
        "KB_DATA_DIR": str(tmp_path / "data"),
        "KB_CANARY_QUESTIONS": "0",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    ingested = subprocess.run([*KB, "ingest"], env=env, capture_output=True, timeout=300)
    assert ingested.returncode == 0, ingested.stderr
    initialize = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "1"},
        },
    }
    lines = [
        b"{not json\n",
        b'{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "\\ud800"}}\n',
        b'{"jsonrpc": "2.0", "id": 8, "hello": "world"}\n',
        b"\xff\xfe garbage bytes\n",
        (json.dumps(initialize) + "\n").encode(),
    ]
    done = subprocess.run(
        [*KB, "mcp"], env=env, input=b"".join(lines), capture_output=True, timeout=120
    )
    answers = [json.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]
    by_id = {a["id"]: a for a in answers}
    assert answers[0]["id"] is None and answers[0]["error"]["code"] == -32700, answers
    assert by_id[7]["error"]["code"] == -32600 and by_id[8]["error"]["code"] == -32600
    assert sum(1 for a in answers if a["id"] is None and a["error"]["code"] == -32700) == 2, answers
    assert by_id[9]["result"]["serverInfo"]["name"]  # and it still answers a real request
