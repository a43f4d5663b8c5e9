"""`POST /v1/chat`: grounded answers as JSON, or as server-sent events when streaming."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse, ServerSentEvent

from kbcore.answering.engine import ChatEngine
from kbcore.answering.models import Answer, Turn
from kbcore.errors import KBError
from service.chat.schemas import ChatRequest, ChatResponse
from service.deps import EngineDep
from service.problems import Problem, problem_from_error

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["chat"])

SSE_DESCRIPTION = """With `"stream": true` (or `Accept: text/event-stream`) the answer arrives
as server-sent events, in this order: `meta` (`conversation_id`, `index_version`),
`delta` (`text`, repeated), `citations` (the verified list), `done` (the final response
object; its `answer` is authoritative). A failure ends the stream with an `error` event
holding an RFC 9457 problem."""


def _sse(event: str, data: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(json.dumps(data, ensure_ascii=False), event=event, sep="\n")


@router.post(
    "/chat",
    summary="Ask a question; get a cited answer or an honest refusal",
    response_model=ChatResponse,
    description=SSE_DESCRIPTION,
    responses={
        200: {"content": {"text/event-stream": {}}},
        413: {"description": "Body too large"},
        422: {"description": "Invalid request"},
        503: {"description": "Index or LLM unavailable (Retry-After)"},
    },
)
async def chat(
    body: ChatRequest,
    engine: EngineDep,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    conversation_id = body.conversation_id or uuid.uuid4().hex
    history = [Turn(role=t.role, content=t.content) for t in body.history]
    wants_stream = body.stream or "text/event-stream" in (accept or "")
    if not wants_stream:
        answer = await engine.aanswer(body.message, history, body.tags)
        return answer.to_json(conversation_id)
    return EventSourceResponse(_events(engine, body, history, conversation_id), sep="\n", ping=None)


async def _events(
    engine: ChatEngine,
    body: ChatRequest,
    history: list[Turn],
    conversation_id: str,
) -> AsyncIterator[ServerSentEvent]:
    try:
        async for name, data in engine.astream(body.message, history, body.tags):
            if name == "meta":
                yield _sse("meta", {"conversation_id": conversation_id, **data})
            elif name == "answer":
                answer: Answer = data["answer"]
                yield _sse("done", answer.to_json(conversation_id))
            else:
                yield _sse(name, data)
    except KBError as exc:
        problem = problem_from_error(exc)
        yield _sse(
            "error",
            {
                **problem.document("/v1/chat"),
                "retry_after": problem.headers.get("Retry-After"),
            },
        )
    except Exception:
        log.exception("chat stream failed")
        failed = Problem(500, "the server could not complete the answer", slug="internal")
        yield _sse("error", failed.document("/v1/chat"))
