"""Request and response bodies of `POST /v1/chat` (the OpenAPI schema is built from these)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.utf8 import Utf8Str

MAX_MESSAGE = 2000
MAX_TURNS = 20
MAX_TURN = 4000


class TurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: Utf8Str = Field(max_length=MAX_TURN)


class ChatRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"message": "How much does fine-tuning cost?"},
                {
                    "message": "and how many rounds should I plan for?",
                    "history": [
                        {"role": "user", "content": "How much does fine-tuning cost?"},
                        {"role": "assistant", "content": "A training run costs $50-500 [1]."},
                    ],
                    "conversation_id": "c-42",
                    "stream": False,
                    "tags": ["fine-tuning"],
                },
            ]
        },
    )

    message: Utf8Str = Field(min_length=1, max_length=MAX_MESSAGE, description="The question.")
    history: list[TurnIn] = Field(
        default_factory=list, max_length=MAX_TURNS, description="Earlier turns, oldest first."
    )
    conversation_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="Echoed back; generated if absent."
    )
    stream: bool = Field(False, description="Answer as server-sent events.")
    tags: list[Utf8Str] | None = Field(
        None, max_length=10, description="Only use sections with any of these tags."
    )
    channel: Literal["rest", "widget", "cli"] = Field(
        "rest",
        description='Where the question is asked, for the owner\'s analytics ("widget" '
        'from the embeddable widget, "cli" from `kb ask` against a running server).',
    )

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain text")
        return value.strip()

    @field_validator("tags")
    @classmethod
    def _short_tags(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not 0 < len(tag) <= 64 for tag in value):
            raise ValueError("each tag must be 1-64 characters")
        return value


class CitationOut(BaseModel):
    id: int
    article: str
    title: str
    heading: str
    anchor: str
    url: str = Field(description="The section on the published site (or the demo site).")
    path: str = Field(description="The source file, relative to the content folder.")
    quote: str
    score: float
    in_answer: bool = Field(
        True,
        description="False for evidence: a related section's quote shown after the answer "
        "that the answer text does not repeat (no [n] marker points to it).",
    )


class SuggestionOut(BaseModel):
    article: str
    title: str
    url: str
    path: str


class RefusalOut(BaseModel):
    code: Literal[
        "no_sources",
        "low_similarity",
        "unsupported_term",
        "missing_value",
        "not_covered",
        "unverified",
    ]
    detail: str
    score: float | None = Field(description="The best section's similarity to the question.")
    floor: float | None = Field(description="The similarity this index needs to answer.")
    terms: list[str] = Field(description="Terms the question turns on that no section has.")


class VerificationOut(BaseModel):
    claims: int = Field(description="Sentences of the model's answer that state something.")
    kept: int = Field(description="Claims a retrieved section supports (shown, cited).")
    removed: int = Field(description="Claims no retrieved section supports (not shown).")
    fallback: bool = Field(
        description="Nothing was kept: the answer is the extractive one (or a refusal)."
    )
    model_error: str | None = Field(
        None,
        description="The model failed (timed out, unreachable, died mid-answer): what is "
        "kept of it, or the extractive answer, is returned instead of an error.",
    )


class TokenUsageOut(BaseModel):
    prompt_tokens: int | None = Field(description="Null when the model server did not say.")
    completion_tokens: int | None = None


class ChatResponse(BaseModel):
    answer: str = Field(description="The answer with [n] markers matching citation ids.")
    citations: list[CitationOut]
    grounded: bool = Field(description="False when the knowledge base does not cover it.")
    suggestions: list[SuggestionOut]
    conversation_id: str
    message_id: str = Field(
        description="This answer's id: send it with POST /v1/feedback to rate this answer."
    )
    index_version: str
    refusal: RefusalOut | None = Field(
        description="Why the question was not answered (null when grounded)."
    )
    verification: VerificationOut | None = Field(
        None,
        description="With a language model: how many of its claims were checked, kept and "
        "removed (null for the extractive answerer, whose answer is its quotes).",
    )
    usage: TokenUsageOut | None = Field(
        None, description="With a language model: the tokens it reported for this answer."
    )
