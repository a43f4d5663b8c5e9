"""An OpenAI-compatible chat server for tests, reached through the real `openai` client
over real HTTP. Its behaviour is chosen by the model name:

- ``cite-first``: answers with the first sentence of source 1, cited ``[1]``;
- ``cite-invented``: cites ``[1]`` and ``[7]`` (only a few sources exist);
- ``cite-nothing``: answers without any marker;
- ``altered-number``, ``own-markers``, ``invented-option``: what claim verification must
  catch or understand (a changed number; ``【1】`` and a "Sources:" list; an option the
  sources never name);
- ``not-covered``: replies ``NOT_COVERED``;
- ``slow``: waits longer than any test timeout before answering;
- ``trickle``: streams the cite-first answer 100 times, word by word, slowly (to test
  cancellation);
- ``fail``: answers HTTP 500.

Follow-up rewrite requests (the prompt asks for a "Standalone question") are answered
with ``STUB_REWRITE`` + the last user message.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

_SOURCE = re.compile(r'<source id="(\d+)"[^>]*>\n(=== DATA [0-9a-f]+ ===)\n(.*?)\n\2', re.S)


@dataclass
class StubLog:
    requests: list[dict[str, Any]] = field(default_factory=list)
    cancelled: int = 0
    completed_streams: int = 0


def _answer(model: str, prompt: str) -> str:
    if "Standalone question:" in prompt:
        last = re.search(r"Last message: (.*)\n", prompt)
        return (
            "How much does fine-tuning cost and how many training iterations are needed?"
            if (last and "rounds" in last.group(1))
            else (last.group(1) if last else "")
        )
    sources = {int(m.group(1)): m.group(3) for m in _SOURCE.finditer(prompt)}
    first = sources.get(1, "")
    sentence = re.split(r"(?<=[.!?])\s", first.strip())[0] if first else "Nothing."
    if model == "cite-invented":
        return f"{sentence} [1] It is also said that costs are zero [7]."
    if model == "cite-nothing":
        return f"{sentence} It also runs on a toaster without any graphics card."
    if model == "altered-number":  # every number of the sentence times ten
        return re.sub(r"\d+", lambda m: str(int(m.group(0)) * 10), sentence) + " [1]"
    if model == "own-markers":  # fullwidth markers, glued, and a "Sources:" list
        return f"{sentence}【1】\n\nSources:\n1. The first source"
    if model == "invented-option":
        return f"{sentence} [1] Set `brotli=True` in the config to halve it [1]."
    if model == "not-covered":
        return "NOT_COVERED"
    return f"{sentence} [1]"


def build_stub(log: StubLog) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Any:
        """Deterministic 8-dimensional vectors from letter counts (similar texts are close)."""
        body = await request.json()
        log.requests.append(body)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for i, text in enumerate(inputs):
            lower = str(text).lower()
            vector = [float(lower.count(c)) + 0.1 for c in "etaoinsr"]
            data.append({"object": "embedding", "index": i, "embedding": vector})
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", "stub"),
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Any:
        body = await request.json()
        log.requests.append(body)
        model = body.get("model", "cite-first")
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        if model == "fail":
            return JSONResponse({"error": {"message": "boom"}}, status_code=500)
        if model == "slow":
            await asyncio.sleep(30)
        text = _answer(model, prompt)
        created = int(time.time())
        if not body.get("stream"):
            return {
                "id": "stub-1",
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": text},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }

        async def events() -> AsyncIterator[bytes]:
            pieces = [text[i : i + 3] for i in range(0, len(text), 3)]
            if model == "trickle":  # a long answer, word by word: supported sentences
                pieces = [f"{w} " for w in " ".join([text] * 100).split()]
            try:
                for piece in pieces:
                    chunk = {
                        "id": "stub-1",
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [
                            {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                        ],
                    }
                    yield f"data: {json.dumps(chunk)}\n\n".encode()
                    await asyncio.sleep(0.05 if model == "trickle" else 0)
                end = {
                    "id": "stub-1",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                }
                yield f"data: {json.dumps(end)}\n\n".encode()
                if (body.get("stream_options") or {}).get("include_usage"):  # as OpenAI does
                    usage = {
                        "id": "stub-1",
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": {
                            "prompt_tokens": len(prompt.split()),
                            "completion_tokens": len(text.split()),
                            "total_tokens": len(prompt.split()) + len(text.split()),
                        },
                    }
                    yield f"data: {json.dumps(usage)}\n\n".encode()
                yield b"data: [DONE]\n\n"
                log.completed_streams += 1
            except asyncio.CancelledError:
                log.cancelled += 1
                raise

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_stub() -> Iterator[tuple[str, StubLog]]:
    """Serve the stub on a free port; yields its base URL (ending in /v1) and its log."""
    log = StubLog()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_stub(log), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1", log
    finally:
        server.should_exit = True
        thread.join(timeout=5)
