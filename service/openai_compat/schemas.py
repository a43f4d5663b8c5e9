"""Bodies of the OpenAI-compatible routes, shaped like OpenAI's own (the OpenAPI schema is
built from these). Requests accept every OpenAI parameter and ignore the ones that do not
apply (temperature, max_tokens, tools...); responses add one extension object, ``kb``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.chat.schemas import CitationOut, RefusalOut, SuggestionOut, VerificationOut
from service.utf8 import Utf8Str


class ContentPart(BaseModel):
    """A part of a message's content; only text parts are read."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(max_length=64)
    text: Utf8Str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Utf8Str | Annotated[list[ContentPart], Field(max_length=100)] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "model": "kb",
                    "messages": [{"role": "user", "content": "How much does fine-tuning cost?"}],
                },
                {
                    "model": "kb",
                    "stream": True,
                    "messages": [
                        {"role": "system", "content": "You are a helpful assistant."},
                        {"role": "user", "content": "How much does fine-tuning cost?"},
                        {"role": "assistant", "content": "A training run costs $50-500 [1]."},
                        {"role": "user", "content": "and how many runs should I plan for?"},
                    ],
                },
            ]
        },
    )

    model: Utf8Str = Field(max_length=256, description="The model id listed by /v1/models.")
    messages: list[Message] = Field(
        min_length=1,
        max_length=1000,
        description="The conversation: the last user message is the question, earlier user "
        "and assistant turns are its history; system messages are ignored.",
    )
    stream: bool | None = Field(False, description="Answer as chunks (server-sent events).")
    stream_options: StreamOptions | None = None


class UrlCitation(BaseModel):
    url: str = Field(description="The cited section: the page URL with the heading's anchor.")
    title: str = Field(description="Article title > section heading.")
    start_index: int = Field(description="Where the [n] marker starts in the content.")
    end_index: int = Field(description="Where the [n] marker ends in the content (exclusive).")


class Annotation(BaseModel):
    type: Literal["url_citation"] = "url_citation"
    url_citation: UrlCitation


class KbExtension(BaseModel):
    """The knowledge base's own account of the answer (what `POST /v1/chat` returns)."""

    citations: list[CitationOut] = Field(description="Verified quotes, ids match [n] markers.")
    grounded: bool
    suggestions: list[SuggestionOut]
    index_version: str
    refusal: RefusalOut | None
    message_id: str | None = Field(
        None, description="This answer's id: send it with POST /v1/feedback to rate it."
    )
    verification: VerificationOut | None = Field(
        None, description="With a language model: its claims checked, kept and removed."
    )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: None = None
    annotations: list[Annotation]


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    """Token counts as OpenAI reports them. The offline answerer runs no model, so they are
    counted the way a tokenizer splits text (words and punctuation marks); with an LLM they
    still describe the visible prompt and answer."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    kb: KbExtension


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    annotations: list[Annotation] | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a streamed answer; the last one carries the annotations
    (in its delta) and the ``kb`` extension."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None  # only on the extra last chunk of ``include_usage``
    kb: KbExtension | None = None


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """OpenAI's error shape, which OpenAI clients turn into their exception classes."""

    error: ErrorDetail
