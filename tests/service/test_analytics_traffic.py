"""A scripted traffic mix through every answering surface over real HTTP (the widget's
requests, REST, the OpenAI-compatible route with the official client, MCP with the SDK,
and an LLM-backed service for the one refusal only an LLM draft produces), with thumbs
up and down; then GET /v1/admin/analytics and /v1/admin/review report exactly it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from kbcore.runtime import Runtime
from service.analytics.store import FILE_NAME
from service.app import create_app
from tests.conftest import make_settings
from tests.e2e.conftest import serve
from tests.stubs.openai_stub import running_stub

TOKEN = "traffic-admin-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Script:
    """What the traffic was, as the test sent it."""

    turns: list[dict[str, Any]] = field(default_factory=list)  # channel, reason, message_id
    ratings: dict[str, str] = field(default_factory=dict)  # message_id -> up/down


def sse_done(text: str) -> dict[str, Any]:
    events = {}
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events[lines["event"]] = json.loads(lines["data"])
    meta, done = events["meta"], events["done"]
    assert meta["message_id"] == done["message_id"]  # the widget reads it from either
    return dict(done)


@pytest.fixture(scope="module")
def traffic(
    content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Script, Path]]:
    tmp = tmp_path_factory.mktemp("traffic")
    settings = make_settings(tmp, admin_token=TOKEN)
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    script = Script()
    with serve(app) as kb, httpx.Client(base_url=kb, timeout=60) as http:

        def chat(channel: str, message: str, reason: str | None, **extra: Any) -> dict[str, Any]:
            body = {"message": message, **extra}
            if channel == "widget":  # what widget.js sends
                body |= {"channel": "widget", "stream": True, "conversation_id": "w-42"}
                response = http.post("/v1/chat", json=body, headers={"Accept": "text/event-stream"})
                answer = sse_done(response.text)
            else:
                answer = http.post("/v1/chat", json=body).json()
            assert (answer["refusal"] or {}).get("code") == reason, (message, answer["refusal"])
            script.turns.append({"channel": channel, "reason": reason, "id": answer["message_id"]})
            return answer

        def rate(answer: dict[str, Any], rating: str) -> None:
            feedback = {
                "conversation_id": answer["conversation_id"],
                "message_id": answer["message_id"],
                "rating": rating,
            }
            assert http.post("/v1/feedback", json=feedback).status_code == 201
            script.ratings[answer["message_id"]] = rating

        cost = chat("widget", "How much does fine-tuning cost?", None)
        rate(cost, "up")
        history = [
            {"role": "user", "content": "How much does fine-tuning cost?"},
            {"role": "assistant", "content": cost["answer"]},
        ]
        follow = chat("widget", "and how many rounds should I plan for?", None, history=history)
        rate(follow, "down")
        chat("widget", "What is the capital of Australia?", "low_similarity")

        chat("rest", "What is retrieval-augmented generation?", None)
        rate(chat("rest", "what is the maximum chunk size?", "missing_value"), "down")
        chat(
            "rest",
            "How much does it cost to fine-tune Gemini 1.5 Pro on Vertex AI?",
            "unsupported_term",
        )
        chat("rest", "How much does fine-tuning cost?", "no_sources", tags=["no-such-tag"])

        client = openai.OpenAI(base_url=f"{kb}/v1", api_key="unused", max_retries=0)
        completion = client.chat.completions.create(
            model="kb", messages=[{"role": "user", "content": "How much does fine-tuning cost?"}]
        )
        kb_ext = completion.model_extra["kb"]  # type: ignore[index]
        assert kb_ext["grounded"] and kb_ext["message_id"].startswith("m-")
        script.turns.append({"channel": "openai", "reason": None, "id": kb_ext["message_id"]})
        streamed = client.chat.completions.create(
            model="kb",
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            stream=True,
        )
        last = [chunk for chunk in streamed][-1]
        refused = last.model_extra["kb"]  # type: ignore[index]
        assert refused["refusal"]["code"] == "low_similarity"
        script.turns.append(
            {"channel": "openai", "reason": "low_similarity", "id": refused["message_id"]}
        )

        async def mcp_ask() -> Any:
            async with (
                httpx2.AsyncClient(timeout=60) as transport,
                Client(streamable_http_client(f"{kb}/mcp", http_client=transport)) as mcp,
            ):
                return await mcp.call_tool("ask", {"question": "What is LoRA?"})

        result = asyncio.run(mcp_ask()).structured_content
        assert result["grounded"] and result["message_id"].startswith("m-")
        script.turns.append({"channel": "mcp", "reason": None, "id": result["message_id"]})

        # An LLM that finds no answer in the sources: the "unverified" refusal, logged in
        # the same database by a second service (another replica) sharing the data folder.
        with running_stub() as (stub_url, _):
            llm_settings = make_settings(
                tmp,
                admin_token=TOKEN,
                llm_base_url=stub_url,
                llm_model="not-covered",
                llm_max_retries=0,
            )
            llm_app = create_app(llm_settings, runtime=content_runtime, sync_on_start=False)
            with serve(llm_app) as llm_kb:
                body = {"message": "How much does fine-tuning cost?"}
                answer = httpx.post(f"{llm_kb}/v1/chat", json=body, timeout=60).json()
                assert answer["refusal"]["code"] == "unverified"
                script.turns.append(
                    {"channel": "rest", "reason": "unverified", "id": answer["message_id"]}
                )
        yield kb, script, tmp


def test_analytics_figures_equal_the_scripted_traffic(
    traffic: tuple[str, Script, Path],
) -> None:
    kb, script, _ = traffic
    response = httpx.get(f"{kb}/v1/admin/analytics", headers=AUTH, timeout=120)
    assert response.status_code == 200, response.text
    report = response.json()

    answered = [t for t in script.turns if t["reason"] is None]
    refused = [t for t in script.turns if t["reason"] is not None]
    ratings = Counter(script.ratings.values())
    assert report["totals"] == {
        "questions": len(script.turns),
        "answered": len(answered),
        "refused": len(refused),
        "thumbs_up": ratings["up"],
        "thumbs_down": ratings["down"],
    }
    assert len(script.turns) == 11 and ratings == {"up": 1, "down": 2}
    assert report["rates"]["refused"] == round(len(refused) / len(script.turns), 4)
    assert report["channels"] == dict(Counter(t["channel"] for t in script.turns))
    assert report["channels"] == {"widget": 3, "rest": 5, "openai": 2, "mcp": 1}

    today = dt.datetime.now(dt.UTC).date().isoformat()
    days = {day["date"]: day for day in report["daily"]}
    assert len(report["daily"]) >= 30 and today in days
    assert days[today] == {
        "date": today,
        "questions": 11,
        "answered": 5,
        "refused": 6,
        "thumbs_down": 2,
    }
    assert sum(day["questions"] for day in report["daily"]) == 11

    expected = Counter(t["reason"] for t in refused)
    expected["thumbs_down"] = ratings["down"]
    found: Counter[str] = Counter()
    for gap in report["gaps"]:
        found.update(gap["reasons"])
        assert gap["count"] >= len(gap["examples"]) >= 1 and len(gap["examples"]) <= 3
    assert found == expected
    assert set(expected) == {
        "low_similarity",
        "missing_value",
        "unsupported_term",
        "no_sources",
        "unverified",
        "thumbs_down",
    }
    assert sum(q["count"] for q in report["top_questions"]) == 11
    off_topic = [g for g in report["gaps"] if "What is the capital of Australia?" in g["examples"]]
    assert off_topic and off_topic[0]["nearest_article"] is None  # nothing to extend: write
    chunking = [g for g in report["gaps"] if "what is the maximum chunk size?" in g["examples"]]
    assert chunking[0]["nearest_article"]["article"] == "chunking-for-rag"  # extend this

    cited = {a["article"]: a for a in report["most_cited"]}
    assert "fine-tuning-cost" in cited and cited["fine-tuning-cost"]["count"] >= 2
    never = {a["article"] for a in report["never_cited"] if not a["cited"]}
    assert "prompt-injection" in never and not never & set(cited)


def test_review_queue_lists_refused_and_thumbs_down_turns_newest_first(
    traffic: tuple[str, Script, Path],
) -> None:
    kb, script, tmp = traffic
    page = httpx.get(f"{kb}/v1/admin/review", params={"status": "all"}, headers=AUTH).json()
    wanted = [
        t["id"]
        for t in script.turns
        if t["reason"] is not None or script.ratings.get(t["id"]) == "down"
    ]
    assert page["total"] == len(wanted) == 7
    assert [item["id"] for item in page["items"]] == wanted[::-1]  # newest first
    follow = next(item for item in page["items"] if item["id"] == script.turns[1]["id"])
    assert follow["grounded"] and follow["rating"] == "down" and follow["reason"] is None
    assert follow["question"] == "and how many rounds should I plan for?"
    assert follow["query"] != follow["question"]  # the standalone query it stood for
    assert follow["citations"] and follow["citations"][0]["quote"] in follow["answer"]
    assert set(follow) >= {"id", "question", "answer", "grounded", "reason", "rating",
                           "citations", "at"}  # fmt: skip
    assert (tmp / "data" / FILE_NAME).is_file()
    unauthorised = httpx.get(f"{kb}/v1/admin/review")
    assert unauthorised.status_code == 401
    huge = httpx.get(f"{kb}/v1/admin/review", params={"offset": 2**63}, headers=AUTH)
    assert huge.status_code == 422
    assert huge.headers["content-type"].startswith("application/problem+json")
