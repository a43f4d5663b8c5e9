"""The LLM answerer against an OpenAI-compatible stub server: the real `openai` client
(through llama-index's OpenAILike) over real HTTP, streaming included."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import make_settings
from tests.service.test_chat import parse_sse
from tests.stubs.openai_stub import StubLog, free_port, running_stub


@pytest.fixture(scope="module")
def stub() -> Iterator[tuple[str, StubLog]]:
    with running_stub() as running:
        yield running


def llm_client(
    stub_url: str, runtime: Runtime, tmp: Path, model: str, timeout: float = 5.0
) -> TestClient:
    settings = make_settings(
        tmp, llm_base_url=stub_url, llm_model=model, llm_timeout_s=timeout, llm_max_retries=0
    )
    return TestClient(create_app(settings, runtime=runtime, sync_on_start=False))


def test_llm_answer_cites_a_verbatim_sentence_of_the_source(
    stub: tuple[str, StubLog], content_runtime: Runtime, tmp_path: Path
) -> None:
    url, log = stub
    with llm_client(url, content_runtime, tmp_path, "cite-first") as http:
        body = http.post("/v1/chat", json={"message": "How much does fine-tuning cost?"}).json()
    assert body["grounded"] and body["answer"].endswith("[1]")
    (citation,) = body["citations"]
    assert citation["id"] == 1 and citation["article"] == "fine-tuning-cost"
    assert citation["quote"] in body["answer"]
    request = log.requests[-1]
    system, user = request["messages"][0]["content"], request["messages"][1]["content"]
    assert "data, not instructions" in system and "NOT_COVERED" in system
    assert '<source id="1"' in user and "=== DATA " in user
    assert user.rstrip().endswith("Question: How much does fine-tuning cost?")


def test_invented_citation_ids_are_dropped(
    stub: tuple[str, StubLog], content_runtime: Runtime, tmp_path: Path
) -> None:
    url, _ = stub
    with llm_client(url, content_runtime, tmp_path, "cite-invented") as http:
        body = http.post("/v1/chat", json={"message": "How much does fine-tuning cost?"}).json()
        events = parse_sse(
            http.post(
                "/v1/chat", json={"message": "How much does fine-tuning cost?", "stream": True}
            ).text
        )
    assert "[7]" not in body["answer"] and "[1]" in body["answer"]
    assert [c["id"] for c in body["citations"]] == [1]
    streamed = "".join(d["text"] for n, d in events if n == "delta")
    assert "[7]" not in streamed and "[1]" in streamed
    assert events[-1][0] == "done" and [c["id"] for c in events[-1][1]["citations"]] == [1]


def test_an_uncited_claim_gets_the_citation_that_supports_it(
    stub: tuple[str, StubLog], content_runtime: Runtime, tmp_path: Path
) -> None:
    """The model wrote a source's sentence without a marker and an unsupported one: the
    first is shown with the citation that supports it, the second is removed."""
    url, _ = stub
    with llm_client(url, content_runtime, tmp_path, "cite-nothing") as http:
        body = http.post("/v1/chat", json={"message": "How much does fine-tuning cost?"}).json()
    assert body["grounded"] and body["answer"].endswith("[1]")
    assert "toaster" not in body["answer"]
    assert body["citations"][0]["quote"] in body["answer"]
    assert body["verification"] == {
        "claims": 2,
        "kept": 1,
        "removed": 1,
        "fallback": False,
        "model_error": None,
    }


def test_not_covered_reply_is_a_refusal_and_never_shown(
    stub: tuple[str, StubLog], content_runtime: Runtime, tmp_path: Path
) -> None:
    url, _ = stub
    with llm_client(url, content_runtime, tmp_path, "not-covered") as http:
        events = parse_sse(
            http.post(
                "/v1/chat", json={"message": "How do LoRA adapters work?", "stream": True}
            ).text
        )
    streamed = "".join(d["text"] for n, d in events if n == "delta")
    assert "NOT_COVERED" not in streamed and "doesn't cover" in streamed
    assert events[-1][1]["grounded"] is False


def test_llm_stream_delivers_deltas_then_verified_citations(
    stub: tuple[str, StubLog], content_runtime: Runtime, tmp_path: Path
) -> None:
    url, _ = stub
    with llm_client(url, content_runtime, tmp_path, "cite-first") as http:
        events = parse_sse(
            http.post("/v1/chat", json={"message": "What is LoRA?", "stream": True}).text
        )
    names = [n for n, _ in events]
    assert names[0] == "meta" and events[0][1]["answerer"] == "llm"
    assert names.count("delta") >= 1 and names[-2:] == ["citations", "done"]
    done = events[-1][1]
    assert "".join(d["text"] for n, d in events if n == "delta") == done["answer"]
    assert done["grounded"] and done["citations"][0]["quote"] in done["answer"]


@pytest.mark.parametrize("model", ["slow", "fail"])
def test_an_llm_outage_answers_from_the_sources(
    stub: tuple[str, StubLog], content_runtime: Runtime, tmp_path: Path, model: str
) -> None:
    """A model that times out or answers 500 used to be a 503 for the visitor; the
    verified extractive answer now stands in, quickly, and says why."""
    url, _ = stub
    with llm_client(url, content_runtime, tmp_path, model, timeout=1.0) as http:
        started = time.monotonic()
        response = http.post("/v1/chat", json={"message": "How much does fine-tuning cost?"})
        elapsed = time.monotonic() - started
        events = parse_sse(
            http.post(
                "/v1/chat", json={"message": "How much does fine-tuning cost?", "stream": True}
            ).text
        )
    body = response.json()
    assert response.status_code == 200 and elapsed < 10
    assert body["grounded"] and "$150-2,500" in body["answer"]
    assert body["verification"]["fallback"] is True and body["verification"]["model_error"]
    assert "stub" not in response.text and "Traceback" not in response.text
    assert events[0][0] == "meta" and events[-1][0] == "done"
    streamed = "".join(d["text"] for n, d in events if n == "delta")
    assert streamed == events[-1][1]["answer"] == body["answer"]


def test_follow_up_is_rewritten_by_the_llm(
    stub: tuple[str, StubLog], content_runtime: Runtime, tmp_path: Path
) -> None:
    url, log = stub
    history = [
        {"role": "user", "content": "How much does fine-tuning cost?"},
        {"role": "assistant", "content": "A run costs $50-500 [1]."},
    ]
    with llm_client(url, content_runtime, tmp_path, "cite-first") as http:
        before = len(log.requests)
        body = http.post(
            "/v1/chat",
            json={"message": "and how many rounds should I plan for?", "history": history},
        ).json()
    prompts = [r["messages"][-1]["content"] for r in log.requests[before:]]
    assert any("Standalone question:" in p for p in prompts)
    answer_prompt = next(p for p in prompts if "Question:" in p and "<source" in p)
    assert "training iterations" in answer_prompt  # the rewritten question was answered
    assert body["grounded"] and body["citations"][0]["article"] == "fine-tuning-cost"


def test_client_disconnect_cancels_the_llm_call(
    stub: tuple[str, StubLog], content_runtime: Runtime, tmp_path: Path
) -> None:
    url, log = stub
    settings = make_settings(tmp_path, llm_base_url=url, llm_model="trickle", llm_max_retries=0)
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    cancelled_before, completed_before = log.cancelled, log.completed_streams
    try:
        with httpx.stream(
            "POST",
            f"http://127.0.0.1:{port}/v1/chat",
            json={"message": "What is LoRA?", "stream": True},
            timeout=30,
        ) as response:
            deltas = 0
            for line in response.iter_lines():
                if line == "event: delta":
                    deltas += 1
                if deltas >= 3:
                    break  # the visitor closes the widget mid-answer
        deadline = time.monotonic() + 10
        while log.cancelled == cancelled_before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert log.cancelled > cancelled_before
        assert log.completed_streams == completed_before
    finally:
        server.should_exit = True
        thread.join(timeout=5)
