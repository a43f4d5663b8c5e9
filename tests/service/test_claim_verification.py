"""Claim verification of generated answers (issue #23) through the real `openai` client
against an OpenAI-compatible stub over HTTP: a claim its source does not support is never
shown, with or without a citation; the response says what was removed; an answer with
nothing left falls back to the extractive one."""

from __future__ import annotations

from pathlib import Path

from kbcore.runtime import Runtime
from tests.service.test_chat import parse_sse
from tests.service.test_chat_llm import llm_client, stub  # noqa: F401  (the fixture)
from tests.stubs.openai_stub import StubLog

QUESTION = {"message": "How much does fine-tuning cost?"}


def test_a_changed_number_is_removed_and_the_extractive_answer_stands_in(
    stub: tuple[str, StubLog],  # noqa: F811
    content_runtime: Runtime,
    tmp_path: Path,
) -> None:
    url, _ = stub
    with llm_client(url, content_runtime, tmp_path, "altered-number") as http:
        body = http.post("/v1/chat", json=QUESTION).json()
        events = parse_sse(http.post("/v1/chat", json={**QUESTION, "stream": True}).text)
    assert body["verification"] == {
        "claims": 1,
        "kept": 0,
        "removed": 1,
        "fallback": True,
        "model_error": None,
    }
    assert body["grounded"] and "$1500" not in body["answer"] and "$500-5000" not in body["answer"]
    assert "$150-2,500" in body["answer"]  # the extractive answer: the source's own words
    streamed = "".join(d["text"] for n, d in events if n == "delta")
    assert "1500" not in streamed and "5000" not in streamed
    assert events[-1][1]["answer"] == body["answer"]


def test_markers_real_models_write_and_their_sources_list(
    stub: tuple[str, StubLog],  # noqa: F811
    content_runtime: Runtime,
    tmp_path: Path,
) -> None:
    url, _ = stub
    with llm_client(url, content_runtime, tmp_path, "own-markers") as http:
        body = http.post("/v1/chat", json=QUESTION).json()
    assert body["answer"].endswith(" [1]") and "【" not in body["answer"]
    assert "Sources" not in body["answer"] and "first source" not in body["answer"]
    assert body["verification"]["kept"] == 1 and body["citations"][0]["id"] == 1


def test_an_option_the_sources_never_name_is_removed(
    stub: tuple[str, StubLog],  # noqa: F811
    content_runtime: Runtime,
    tmp_path: Path,
) -> None:
    url, _ = stub
    with llm_client(url, content_runtime, tmp_path, "invented-option") as http:
        body = http.post("/v1/chat", json=QUESTION).json()
        events = parse_sse(http.post("/v1/chat", json={**QUESTION, "stream": True}).text)
    assert "brotli" not in body["answer"] and body["grounded"]
    assert body["verification"] == {
        "claims": 2,
        "kept": 1,
        "removed": 1,
        "fallback": False,
        "model_error": None,
    }
    assert "brotli" not in "".join(d["text"] for n, d in events if n == "delta")
    quote = body["citations"][0]["quote"]
    assert quote in body["answer"]  # the citation quotes the sentence that supports it


def test_token_usage_reaches_the_response_the_metrics_and_the_log(
    stub: tuple[str, StubLog],  # noqa: F811
    content_runtime: Runtime,
    tmp_path: Path,
) -> None:
    import sqlite3
    from contextlib import closing

    url, log = stub
    with llm_client(url, content_runtime, tmp_path, "cite-first") as http:
        body = http.post("/v1/chat", json=QUESTION).json()
        assert http.app.state.kb.conversation_log().flush()  # type: ignore[attr-defined]
        metrics = http.get("/metrics").text
    asked = log.requests[-1]
    assert asked["stream_options"] == {"include_usage": True}
    prompt = len("\n".join(m["content"] for m in asked["messages"]).split())
    assert (
        body["usage"]
        == {"prompt_tokens": prompt, "completion_tokens": body["usage"]["completion_tokens"]}
        and body["usage"]["completion_tokens"] > 0
    )
    assert f'kb_llm_tokens_total{{kind="prompt"}} {float(prompt)}' in metrics
    with closing(sqlite3.connect(tmp_path / "data" / "conversations.sqlite3")) as db:
        row = db.execute(
            "SELECT prompt_tokens, completion_tokens FROM turns WHERE id = ?",
            (body["message_id"],),
        ).fetchone()
    assert row == (prompt, body["usage"]["completion_tokens"])
