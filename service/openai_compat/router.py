"""``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /v1/models/{model}``: the chat
engine behind OpenAI's chat API, for the official clients and the front-ends that speak it.

One model id (``KB_MODEL_ID``, default ``kb``); any other is 404 in OpenAI's error shape.
With ``KB_API_TOKEN`` set, these routes need ``Authorization: Bearer <token>`` (the
client's API key). A streamed answer sends the role first, then the verified answer text
in pieces (what streams is exactly what the non-streaming call returns: verification
runs before any text is sent), then a final chunk with the annotations and the ``kb``
extension, then ``[DONE]``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sse_starlette import EventSourceResponse, ServerSentEvent

from kbcore.answering.engine import ChatEngine
from kbcore.answering.models import Answer
from kbcore.errors import KBError
from kbcore.settings import Settings
from service.analytics.deps import ConversationLogDep
from service.analytics.log import Channel, ConversationLog, new_conversation_id, new_message_id
from service.bearer import token_matches
from service.deps import EngineDep, PublicBaseDep, StateDep
from service.openai_compat.conversation import Conversation, conversation, message_text
from service.openai_compat.errors import error_body
from service.openai_compat.render import Rendered, pieces, render
from service.openai_compat.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    ErrorResponse,
    Message,
    Model,
    ModelList,
    Usage,
)
from service.problems import Problem, problem_from_error
from service.public_urls import with_absolute_links
from service.state import ServiceState

log = logging.getLogger(__name__)
OWNER = "kb-chat"
ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorResponse, "description": "OpenAI error object"},
    "5XX": {"model": ErrorResponse, "description": "OpenAI error object (503: Retry-After)"},
}
bearer = HTTPBearer(
    auto_error=False,
    description="KB_API_TOKEN, when the service sets one (the OpenAI client's api_key).",
)


def require_api_token(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """401 unless the request carries ``KB_API_TOKEN`` (when one is set)."""
    expected = state.settings.api_token
    if expected is None:
        return
    supplied = credentials.credentials.strip() if credentials is not None else None
    if not token_matches(supplied, expected):
        raise Problem(
            401,
            "send KB_API_TOKEN as the API key ('Authorization: Bearer <token>')"
            if supplied is None
            else "the API key is not valid",
            slug="invalid-api-key",
            headers={"WWW-Authenticate": 'Bearer realm="kb-api"'},
        )


router = APIRouter(
    prefix="/v1",
    tags=["openai-compatible"],
    dependencies=[Depends(require_api_token)],
    responses=ERRORS,
)


def _model(state: ServiceState) -> Model:
    """The model: "created" is when the index version serving now was built (0 while
    there is none)."""
    created = 0
    try:
        version = state.served_version() if state.runtime is not None else ""
        created = int(
            dt.datetime.strptime(version[:15], "%Y%m%dt%H%M%S").replace(tzinfo=dt.UTC).timestamp()
        )
    except (KBError, ValueError):
        pass
    return Model(id=state.settings.model_id, created=created, owned_by=OWNER)


def _check_model(settings: Settings, model: str) -> None:
    if model != settings.model_id:
        raise Problem(
            404,
            f"the model '{model}' does not exist; this service answers as "
            f"'{settings.model_id}' (GET /v1/models)",
            slug="model-not-found",
            extra={"param": "model"},
        )


@router.get("/models", summary="The one model id this service answers to (OpenAI format)")
async def list_models(state: StateDep) -> ModelList:
    return ModelList(data=[await run_in_threadpool(_model, state)])


@router.get("/models/{model:path}", summary="One model (OpenAI format)")
async def get_model(model: str, state: StateDep) -> Model:
    _check_model(state.settings, model)
    return await run_in_threadpool(_model, state)


@router.post(
    "/chat/completions",
    summary="OpenAI-compatible chat: a cited answer as an assistant message",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def chat_completions(
    body: ChatCompletionRequest,
    state: StateDep,
    engine: EngineDep,
    base: PublicBaseDep,
    conversations: ConversationLogDep,
) -> Any:
    started = time.perf_counter()
    _check_model(state.settings, body.model)
    asked = conversation(body.messages)
    completion_id = f"chatcmpl-{secrets.token_hex(12)}"
    created = int(time.time())
    turn = _Logged(conversations, asked, started)
    if not body.stream:
        answer = await engine.aanswer(asked.question, asked.history)
        rendered = render(with_absolute_links(answer, base), await turn.record(answer))
        return ChatCompletion(
            id=completion_id,
            created=created,
            model=body.model,
            choices=[
                Choice(
                    message=AssistantMessage(
                        content=rendered.content, annotations=rendered.annotations
                    )
                )
            ],
            usage=usage(body.messages, rendered.content),
            kb=rendered.kb,
        )
    chunks = _Chunks(completion_id, created, body.model)
    options = body.stream_options
    wants_usage = bool(options is not None and options.include_usage)
    stream = _stream(engine, asked, chunks, base, turn, body.messages if wants_usage else None)
    return EventSourceResponse(stream, sep="\n", ping=None)


_TOKEN = re.compile(r"\w+|[^\w\s]")


def usage(messages: list[Message], answer: str) -> Usage:
    """The completion's token counts (see :class:`Usage`)."""
    prompt = sum(len(_TOKEN.findall(message_text(m))) for m in messages)
    completion = len(_TOKEN.findall(answer))
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


@dataclass
class _Logged:
    """Logs one completion's answer in the conversation log."""

    log: ConversationLog
    asked: Conversation
    started: float

    async def record(self, answer: Answer) -> str:
        """Log the answer; its message id."""
        message_id = new_message_id()
        written = self.log.record(
            channel=Channel.OPENAI,
            message_id=message_id,
            conversation_id=new_conversation_id(Channel.OPENAI),
            question=self.asked.question,
            history=self.asked.history,
            answer=answer,
            latency_ms=(time.perf_counter() - self.started) * 1000,
        )
        await self.log.committed(written)
        return message_id


class _Chunks:
    """Server-sent events of one streamed completion."""

    def __init__(self, completion_id: str, created: int, model: str) -> None:
        self.id, self.created, self.model = completion_id, created, model

    def event(self, delta: Delta, rendered: Rendered | None = None) -> ServerSentEvent:
        chunk = ChatCompletionChunk(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[ChunkChoice(delta=delta, finish_reason="stop" if rendered else None)],
            kb=rendered.kb if rendered else None,
        )
        # As OpenAI sends them: a delta holds only what it adds; finish_reason is null until
        # the last chunk; the extension object is only on the last one.
        data = chunk.model_dump(mode="json", exclude={"kb"} if rendered is None else set())
        data["choices"][0]["delta"] = delta.model_dump(mode="json", exclude_none=True)
        return _sse(data)


def _sse(data: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(json.dumps(data, ensure_ascii=False), sep="\n")


async def _stream(
    engine: ChatEngine,
    asked: Conversation,
    chunks: _Chunks,
    base: str,
    turn: _Logged,
    usage_of: list[Message] | None = None,
) -> AsyncIterator[ServerSentEvent]:
    yield chunks.event(Delta(role="assistant", content=""))
    try:
        answer = await engine.aanswer(asked.question, asked.history)
    except KBError as exc:
        problem = problem_from_error(exc)
        yield _sse(error_body(problem.status, problem.detail, problem.slug.replace("-", "_")))
        return
    except Exception:
        log.exception("chat completion stream failed")
        message = "the server could not complete the answer"
        yield _sse(error_body(500, message, "internal"))
        return
    rendered = render(with_absolute_links(answer, base), await turn.record(answer))
    for piece in pieces(rendered.content):
        yield chunks.event(Delta(content=piece))
    yield chunks.event(Delta(annotations=rendered.annotations), rendered)
    if usage_of is not None:  # as OpenAI does: one more chunk, no choices, the usage
        last = ChatCompletionChunk(
            id=chunks.id,
            created=chunks.created,
            model=chunks.model,
            choices=[],
            usage=usage(usage_of, rendered.content),
        )
        yield _sse(last.model_dump(mode="json", exclude={"kb"}))
    yield ServerSentEvent("[DONE]", sep="\n")
