"""`POST /v1/chat`: grounded answers as JSON, or as server-sent events when streaming."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse, ServerSentEvent

from kbcore.answering.engine import ChatEngine
from kbcore.answering.models import Answer, Turn
from kbcore.errors import KBError
from service.analytics.deps import ConversationLogDep
from service.analytics.log import Channel, ConversationLog, new_message_id
from service.chat.schemas import ChatRequest, ChatResponse
from service.deps import EngineDep
from service.problems import Problem, problem_from_error

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["chat"])

SSE_DESCRIPTION = """With `"stream": true` (or `Accept: text/event-stream`) the answer arrives
as server-sent events, in this order: `meta` (`conversation_id`, `message_id`,
`index_version`), `delta` (`text`, repeated), `citations` (the verified list), `done` (the
final response object; its `answer` is authoritative). A failure ends the stream with an
`error` event holding an RFC 9457 problem."""


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
    conversations: ConversationLogDep,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    started = time.perf_counter()
    turn = _Turn(body.conversation_id or uuid.uuid4().hex, new_message_id(), conversations)
    history = [Turn(role=t.role, content=t.content) for t in body.history]
    wants_stream = body.stream or "text/event-stream" in (accept or "")
    if not wants_stream:
        answer = await engine.aanswer(body.message, history, body.tags)
        return await turn.done(body, history, answer, started)
    return EventSourceResponse(_events(engine, body, history, turn, started), sep="\n", ping=None)


class _Turn:
    """One question's ids, and logging its answer."""

    def __init__(self, conversation_id: str, message_id: str, log: ConversationLog) -> None:
        self.conversation_id, self.message_id, self.log = conversation_id, message_id, log

    async def done(
        self, body: ChatRequest, history: list[Turn], answer: Answer, started: float
    ) -> dict[str, object]:
        """Log the answer; the response object."""
        written = self.log.record(
            channel=Channel(body.channel),
            message_id=self.message_id,
            conversation_id=self.conversation_id,
            question=body.message,
            history=history,
            answer=answer,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        await self.log.committed(written)
        return {**answer.to_json(self.conversation_id), "message_id": self.message_id}


async def _events(
    engine: ChatEngine,
    body: ChatRequest,
    history: list[Turn],
    turn: _Turn,
    started: float,
) -> AsyncIterator[ServerSentEvent]:
    try:
        async for name, data in engine.astream(body.message, history, body.tags):
            if name == "meta":
                ids = {"conversation_id": turn.conversation_id, "message_id": turn.message_id}
                yield _sse("meta", {**ids, **data})
            elif name == "answer":
                answer: Answer = data["answer"]
                yield _sse("done", await turn.done(body, history, answer, started))
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
