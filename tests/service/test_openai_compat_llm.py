"""The OpenAI-compatible routes with the LLM answerer (an OpenAI-compatible stub server as
the paid LLM): what streams is the verified answer, and an outage is an OpenAI error."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openai
import pytest

from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import make_settings
from tests.e2e.conftest import serve
from tests.stubs.openai_stub import StubLog, running_stub

QUESTION = [{"role": "user", "content": "How much does fine-tuning cost?"}]


@pytest.fixture(scope="module")
def stub() -> Iterator[tuple[str, StubLog]]:
    with running_stub() as running:
        yield running


@contextmanager
def kb_client(stub_url: str, runtime: Runtime, tmp: Path, model: str) -> Iterator[openai.OpenAI]:
    settings = make_settings(
        tmp, llm_base_url=stub_url, llm_model=model, llm_timeout_s=1.0, llm_max_retries=0
    )
    with serve(create_app(settings, runtime=runtime, sync_on_start=False)) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)


def test_invented_citations_never_reach_the_client_streamed_or_not(
    stub: tuple[str, StubLog], content_runtime: Runtime, tmp_path: Path
) -> None:
    with kb_client(stub[0], content_runtime, tmp_path, "cite-invented") as client:
        whole = client.chat.completions.create(model="kb", messages=QUESTION)
        chunks = list(client.chat.completions.create(model="kb", messages=QUESTION, stream=True))
    content = whole.choices[0].message.content or ""
    assert "[7]" not in content and "[1]" in content
    assert [c["id"] for c in whole.model_extra["kb"]["citations"]] == [1]
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == content  # verification ran before any text was sent
    annotations = chunks[-1].choices[0].delta.model_extra["annotations"]
    assert [
        content[a["url_citation"]["start_index"] : a["url_citation"]["end_index"]]
        for a in annotations
    ] == ["[1]"]


@pytest.mark.parametrize("model", ["slow", "fail"])
def test_an_llm_outage_answers_from_the_sources(
    stub: tuple[str, StubLog], content_runtime: Runtime, tmp_path: Path, model: str
) -> None:
    """A model that times out or fails is not the visitor's problem: the verified
    extractive answer stands in, and the kb extension says why (issue #23)."""
    with kb_client(stub[0], content_runtime, tmp_path, model) as client:
        started = time.monotonic()
        whole = client.chat.completions.create(model="kb", messages=QUESTION)
        elapsed = time.monotonic() - started
        chunks = list(client.chat.completions.create(model="kb", messages=QUESTION, stream=True))
    assert elapsed < 10
    content = whole.choices[0].message.content or ""
    assert "$150-2,500" in content and whole.choices[0].finish_reason == "stop"
    kb = (whole.model_extra or {})["kb"]
    assert kb["grounded"] and kb["verification"]["fallback"] is True
    assert kb["verification"]["model_error"]
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "$150-2,500" in streamed
