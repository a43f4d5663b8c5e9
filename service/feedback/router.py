"""`POST /v1/feedback` (thumbs up/down on an answer) and `GET /v1/admin/feedback`."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.admin.auth import AdminDep
from service.analytics.deps import ConversationLogDep
from service.deps import MAX_OFFSET, StateDep
from service.feedback.store import FeedbackStore, NewFeedback
from service.utf8 import Utf8Str

router = APIRouter(prefix="/v1", tags=["feedback"])

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
MAX_URL = 2048


class FeedbackIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "conversation_id": "c-42",
                    "message_id": "m-3",
                    "rating": "down",
                    "comment": "It did not mention the retraining cost.",
                    "question": "How much does fine-tuning cost?",
                    "answer": "A training run costs $50-500 [1].",
                    "citations": ["/learn/fine-tuning-cost#how-much-does-a-single-run-cost"],
                }
            ]
        },
    )

    conversation_id: str = Field(pattern=ID_PATTERN)
    message_id: str | None = Field(None, pattern=ID_PATTERN)
    rating: Literal["up", "down"]
    comment: Utf8Str | None = Field(None, max_length=2000)
    question: Utf8Str | None = Field(None, max_length=2000)
    answer: Utf8Str | None = Field(None, max_length=8000)
    citations: list[Utf8Str] = Field(default_factory=list, max_length=20)

    @field_validator("citations")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not _is_link(url):
                raise ValueError("each citation must be an http(s) URL or a site path")
        return value

    @field_validator("comment", "question", "answer")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return value.strip() or None


def _is_link(url: str) -> bool:
    if not 0 < len(url) <= MAX_URL or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return False
    if url.startswith("/") and not url.startswith("//"):
        return True
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class FeedbackCreated(BaseModel):
    id: str
    created_at: str


class FeedbackRecord(BaseModel):
    id: str
    created_at: str
    conversation_id: str
    message_id: str | None
    rating: Literal["up", "down"]
    comment: str | None
    question: str | None
    answer: str | None
    citations: list[str]
    origin: str | None


class FeedbackPage(BaseModel):
    items: list[FeedbackRecord]
    total: int
    limit: int
    offset: int


def get_store(state: StateDep) -> FeedbackStore:
    """The app's feedback store (one per app)."""
    return state.feedback()


StoreDep = Annotated[FeedbackStore, Depends(get_store)]


@router.post(
    "/feedback",
    status_code=201,
    response_model=FeedbackCreated,
    summary="Rate an answer (thumbs up or down, optional comment)",
    responses={
        422: {"description": "Invalid feedback"},
        503: {"description": "The feedback database cannot be written (Retry-After)"},
    },
)
def post_feedback(
    body: FeedbackIn,
    store: StoreDep,
    conversations: ConversationLogDep,
    origin: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    record = store.add(
        NewFeedback(
            conversation_id=body.conversation_id,
            message_id=body.message_id,
            rating=body.rating,
            comment=body.comment,
            question=body.question,
            answer=body.answer,
            citations=tuple(body.citations),
            origin=origin[:200] if origin else None,
        )
    )
    if body.message_id:  # the rating joins the logged turn it rates
        conversations.rate(body.message_id, body.rating, body.comment)
    return {"id": record["id"], "created_at": record["created_at"]}


@router.get(
    "/admin/feedback",
    response_model=FeedbackPage,
    summary="List feedback, newest first (admin token)",
    tags=["admin"],
    responses={401: {"description": "No token"}, 403: {"description": "Wrong token"}},
)
def list_feedback(
    _admin: AdminDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    items, total = store.list(limit=limit, offset=offset)
    return {"items": items, "total": total, "limit": limit, "offset": offset}
