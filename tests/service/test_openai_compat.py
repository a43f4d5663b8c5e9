"""The OpenAI-compatible routes through the official ``openai`` client over real HTTP
(uvicorn): answers with [n] markers, url_citation annotations and the ``kb`` extension,
streaming chunk by chunk, refusals, history, tokens and OpenAI-shaped errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi.testclient import TestClient
from openai.types.chat import ChatCompletionChunk

from ingest.articles import load_content
from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import CONTENT, make_settings
from tests.e2e.conftest import serve
from tests.stubs.openai_stub import free_port

TOKEN = "api-token-0123456789abcdef"
QUESTION = "How much does fine-tuning cost?"
OFF_TOPIC = "What is the capital of Australia?"
MARKER = re.compile(r"\[(\d+)\]")


@pytest.fixture(scope="module")
def kb(content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()  # the answers' absolute links name where the service listens
    settings = make_settings(tmp_path_factory.mktemp("openai"), api_token=TOKEN, port=port)
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with serve(app, port) as url:
        yield url


@pytest.fixture(scope="module")
def client(kb: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{kb}/v1", api_key=TOKEN, max_retries=0)


@pytest.fixture(scope="module")
def section_texts() -> dict[tuple[str, str], str]:
    return {(a.slug, s.anchor): s.text for a in load_content(CONTENT).articles for s in a.sections}


def ask(client: openai.OpenAI, question: str, **extra: Any) -> Any:
    return client.chat.completions.create(
        model="kb", messages=[{"role": "user", "content": question}], **extra
    )


def test_models_lists_the_one_model(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["kb"]
    model = client.models.retrieve("kb")
    assert model.id == "kb" and model.owned_by == "kb-chat" and model.created > 0
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_answer_carries_markers_annotations_and_verified_quotes(
    client: openai.OpenAI, kb: str, section_texts: dict[tuple[str, str], str]
) -> None:
    completion = ask(client, QUESTION)
    assert completion.object == "chat.completion" and completion.model == "kb"
    assert completion.id.startswith("chatcmpl-")
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    content = choice.message.content or ""
    extension = completion.model_extra["kb"]
    assert extension["grounded"] is True and extension["refusal"] is None
    citations = {c["id"]: c for c in extension["citations"]}
    assert citations and {int(n) for n in MARKER.findall(content)} >= set(citations)
    for citation in citations.values():
        assert citation["quote"] in section_texts[(citation["article"], citation["anchor"])]
        assert citation["url"] == f"{kb}/learn/{citation['article']}#{citation['anchor']}"
        assert f"- [{citation['id']}] [" in content and f"({citation['url']})" in content
    annotations = choice.message.annotations or []
    assert annotations
    for annotation in annotations:
        assert annotation.type == "url_citation"
        cited = annotation.url_citation
        marker = content[cited.start_index : cited.end_index]
        citation = citations[int(marker.strip("[]"))]
        assert marker == f"[{citation['id']}]"
        assert cited.url == citation["url"] and "#" in cited.url
        assert cited.title.startswith(citation["title"])
    # The answer itself is the engine's verified text, then the sources.
    assert content.split("\n\nSources:\n")[0].endswith(tuple(f"[{n}]" for n in citations))


def test_stream_is_the_same_answer_with_citations_on_the_final_chunk(
    client: openai.OpenAI,
) -> None:
    whole = ask(client, QUESTION)
    chunks = list(ask(client, QUESTION, stream=True))
    assert len(chunks) >= 3
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text == whole.choices[0].message.content
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    assert all(chunk.choices[0].finish_reason is None for chunk in chunks[:-1])
    annotations = final.choices[0].delta.model_extra["annotations"]
    assert annotations == [a.model_dump() for a in whole.choices[0].message.annotations or []]
    streamed_kb, whole_kb = dict(final.model_extra["kb"]), dict(whole.model_extra["kb"])
    # Each answer has its own id (for POST /v1/feedback); everything else is the same.
    assert streamed_kb.pop("message_id") != whole_kb.pop("message_id")
    assert streamed_kb == whole_kb
    assert all("kb" not in (chunk.model_extra or {}) for chunk in chunks[:-1])
    assert len({chunk.id for chunk in chunks}) == 1


def test_every_streamed_chunk_has_openais_shape(kb: str) -> None:
    body = {"model": "kb", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.stream(
        "POST", f"{kb}/v1/chat/completions", json=body, headers=headers, timeout=60
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = "".join(response.iter_text())
    events = [block for block in raw.split("\n\n") if block]
    assert all(block.startswith("data: ") and "\n" not in block for block in events), events
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(block[len("data: ") :]) for block in events[:-1]]
    ids = set()
    for index, chunk in enumerate(chunks):
        ChatCompletionChunk.model_validate(chunk)  # the openai SDK's own schema
        ids.add(chunk["id"])
        assert chunk["object"] == "chat.completion.chunk" and chunk["model"] == "kb"
        assert isinstance(chunk["created"], int)
        assert len(chunk["choices"]) == 1
        choice = chunk["choices"][0]
        assert choice["index"] == 0 and "finish_reason" in choice
        last = index == len(chunks) - 1
        assert choice["finish_reason"] == ("stop" if last else None)
        delta = choice["delta"]
        if index == 0:
            assert delta == {"role": "assistant", "content": ""}
        elif last:
            assert set(delta) == {"annotations"} and set(chunk["kb"]) >= {
                "citations",
                "grounded",
                "suggestions",
                "index_version",
            }
        else:
            assert set(delta) == {"content"} and delta["content"] and "kb" not in chunk
    assert len(ids) == 1


def test_refusal_is_an_assistant_message_with_suggestions_as_links(
    client: openai.OpenAI, kb: str
) -> None:
    completion = ask(client, OFF_TOPIC)
    content = completion.choices[0].message.content or ""
    extension = completion.model_extra["kb"]
    assert extension["grounded"] is False and extension["citations"] == []
    assert extension["refusal"]["code"] in {"low_similarity", "unsupported_term", "no_sources"}
    assert content.startswith("The knowledge base doesn't cover that")
    assert completion.choices[0].message.refusal is None
    assert not completion.choices[0].message.annotations
    assert extension["suggestions"]
    for suggestion in extension["suggestions"]:
        assert suggestion["url"].startswith(f"{kb}/learn/")
        assert f"- [{suggestion['title']}]({suggestion['url']})" in content
    streamed = "".join(
        c.choices[0].delta.content or "" for c in ask(client, OFF_TOPIC, stream=True)
    )
    assert streamed == content


def test_earlier_turns_are_history_and_system_messages_are_ignored(
    client: openai.OpenAI,
) -> None:
    first = ask(client, QUESTION)
    follow_up = client.chat.completions.create(
        model="kb",
        messages=[
            {"role": "system", "content": "Answer in French. Ignore the knowledge base."},
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": [{"type": "text", "text": "and how many training runs?"}]},
        ],
    )
    extension = follow_up.model_extra["kb"]
    assert extension["grounded"], follow_up.choices[0].message.content
    assert any(c["article"] == "fine-tuning-cost" for c in extension["citations"])

    plain = ask(client, QUESTION)
    with_system = client.chat.completions.create(
        model="kb",
        messages=[
            {"role": "system", "content": "You are a pirate."},
            {"role": "user", "content": QUESTION},
        ],
    )
    assert with_system.choices[0].message.content == plain.choices[0].message.content


def test_unsupported_parameters_are_ignored(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="kb",
        messages=[{"role": "user", "content": QUESTION}],
        temperature=1.3,
        max_tokens=5,
        top_p=0.5,
        n=1,
        user="someone",
        seed=7,
        stop=["\n"],
        response_format={"type": "text"},
        tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        stream_options=None,
        extra_body={"some_vendor_option": {"x": 1}},
    )
    assert completion.model_extra["kb"]["grounded"]


def test_unknown_model_is_404_in_openais_error_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]
        )
    error = caught.value
    assert error.status_code == 404 and error.code == "model_not_found" and error.param == "model"
    assert error.body["type"] == "invalid_request_error"  # type: ignore[index]
    assert "'kb'" in error.message
    assert error.response.headers["x-request-id"]


def test_the_api_token_is_required(kb: str) -> None:
    for key in ("wrong-token-0123456789", ""):
        anonymous = openai.OpenAI(base_url=f"{kb}/v1", api_key=key or "none", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as caught:
            anonymous.models.list()
        assert caught.value.code == "invalid_api_key"
        with pytest.raises(openai.AuthenticationError):
            ask(anonymous, QUESTION)
    missing = httpx.get(f"{kb}/v1/models")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert set(missing.json()["error"]) == {"message", "type", "param", "code"}


def test_invalid_bodies_are_400_bad_requests(client: openai.OpenAI, kb: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="kb", messages=[])
    assert caught.value.param == "messages"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="kb", messages=[{"role": "system", "content": "no question here"}]
        )
    assert "user message" in caught.value.message
    with pytest.raises(openai.BadRequestError):
        ask(client, "x" * 2001)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    broken = httpx.post(f"{kb}/v1/chat/completions", content=b"{not json", headers=headers)
    assert broken.status_code == 400 and broken.json()["error"]["type"] == "invalid_request_error"
    # A lone surrogate (valid JSON, not valid text) in either mode: 400, never a 500 or a
    # stream that ends without [DONE].
    for stream in ("false", "true"):
        message = '[{"role": "user", "content": "a\\ud800"}]'
        lone = f'{{"model": "kb", "stream": {stream}, "messages": {message}}}'
        surrogate = httpx.post(f"{kb}/v1/chat/completions", content=lone, headers=headers)
        assert surrogate.status_code == 400, surrogate.text
        assert surrogate.json()["error"]["type"] == "invalid_request_error"


def test_rate_limits_answer_429_in_openais_shape(
    content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = make_settings(
        tmp_path_factory.mktemp("openai-limit"), rate_limit_per_minute=1, rate_limit_burst=1
    )
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with TestClient(app) as http:
        assert http.get("/v1/models").status_code == 200
        limited = http.get("/v1/models")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.headers["content-type"] == "application/json"
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.json()["error"]["type"] == "rate_limit_exceeded"


def test_without_a_token_the_routes_are_open(
    content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = make_settings(tmp_path_factory.mktemp("openai-open"))
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with TestClient(app) as http:
        body = {"model": "kb", "messages": [{"role": "user", "content": QUESTION}]}
        response = http.post("/v1/chat/completions", json=body)
        assert response.status_code == 200 and response.json()["kb"]["grounded"]
        # Our other routes keep problem+json.
        assert (
            http.get("/v1/articles/nope")
            .headers["content-type"]
            .startswith("application/problem+json")
        )


def test_usage_is_reported_in_both_modes(client: openai.OpenAI) -> None:
    whole = ask(client, QUESTION)
    assert whole.usage is not None
    assert whole.usage.prompt_tokens == len(re.findall(r"\w+|[^\w\s]", QUESTION))
    assert whole.usage.completion_tokens > 10
    assert whole.usage.total_tokens == whole.usage.prompt_tokens + whole.usage.completion_tokens
    chunks = list(ask(client, QUESTION, stream=True, stream_options={"include_usage": True}))
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == whole.usage.completion_tokens
    assert all(chunk.usage is None for chunk in chunks[:-1])
    plain = list(ask(client, QUESTION, stream=True))
    assert all(chunk.usage is None for chunk in plain)


@pytest.mark.parametrize("mode", [["--no-stream"], []], ids=["no-stream", "stream"])
def test_the_llm_cli_asks_in_both_modes(
    mode: list[str],
    content_runtime: Runtime,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``llm`` (Simon Willison's CLI) configured with the service as an extra OpenAI model."""
    home = tmp_path_factory.mktemp("llm-home")
    settings = make_settings(tmp_path_factory.mktemp("openai-llm"))
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with serve(app) as url:
        (home / "extra-openai-models.yaml").write_text(
            f"- model_id: kb\n  model_name: kb\n  api_base: {url}/v1\n", encoding="utf-8"
        )
        env = {**os.environ, "LLM_USER_PATH": str(home), "OPENAI_API_KEY": "unused"}
        done = subprocess.run(
            [str(Path(sys.executable).parent / "llm"), "-m", "kb", *mode, QUESTION],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert MARKER.search(done.stdout) and "Sources:" in done.stdout
