"""What the analytics and review routes return (and ``kb analytics --json`` prints): one
set of models for the API, the CLI and the OpenAPI schema."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.chat.schemas import MAX_MESSAGE, SuggestionOut


class Totals(BaseModel):
    questions: int
    answered: int
    refused: int
    thumbs_up: int
    thumbs_down: int


class Rates(BaseModel):
    """Shares of the window's questions (0 when there were none)."""

    answered: float
    refused: float
    thumbs_down: float


class Day(BaseModel):
    date: str = Field(description="YYYY-MM-DD, UTC.")
    questions: int
    answered: int
    refused: int
    thumbs_down: int


class ArticleCount(BaseModel):
    article: str
    title: str
    url: str
    count: int


class TopQuestion(BaseModel):
    count: int = Field(description="Times this question was asked, in any phrasing.")
    examples: list[str] = Field(description="Up to three phrasings, the most asked first.")
    articles: list[ArticleCount] = Field(description="Articles its answers cited.")
    answered: int
    refused: int


class NearestArticle(BaseModel):
    article: str
    title: str
    heading: str
    anchor: str
    url: str
    score: float = Field(description="Similarity of the question to this section.")


class Gap(BaseModel):
    count: int = Field(description="Refused or thumbs-down turns asking this question.")
    examples: list[str]
    reasons: dict[str, int] = Field(
        description="Refusal codes (and thumbs_down) with how often each occurred."
    )
    nearest_article: NearestArticle | None = Field(
        description="The closest section in the docs (extend it), or null when nothing is "
        "close enough to answer from (write a new article)."
    )


class SectionCount(BaseModel):
    anchor: str
    heading: str
    url: str
    count: int


class CitedArticle(BaseModel):
    article: str
    title: str
    url: str
    count: int = Field(description="Answers citing the article.")
    sections: list[SectionCount]


class SectionRef(BaseModel):
    anchor: str
    heading: str
    url: str


class UncitedArticle(BaseModel):
    article: str
    title: str
    url: str
    cited: bool = Field(description="False when no answer cited any of its sections.")
    sections: list[SectionRef] = Field(description="Its sections no answer cited.")


class Window(BaseModel):
    since: str
    until: str


class AnalyticsReport(BaseModel):
    """What visitors asked in a window and what the docs lacked."""

    window: Window
    totals: Totals
    rates: Rates
    channels: dict[str, int] = Field(
        description="Questions per channel: widget, rest, openai, mcp, cli."
    )
    daily: list[Day]
    top_questions: list[TopQuestion]
    gaps: list[Gap]
    most_cited: list[CitedArticle]
    never_cited: list[UncitedArticle]
    index_version: str | None


class CitationRef(BaseModel):
    article: str
    title: str
    heading: str
    anchor: str
    url: str
    quote: str


class ReviewItem(BaseModel):
    id: str = Field(description="The turn's message_id.")
    at: str
    question: str
    query: str = Field(description="The standalone query (differs for follow-ups).")
    answer: str
    grounded: bool
    reason: str | None = Field(description="The refusal code (null when answered).")
    reason_detail: str | None
    rating: Literal["up", "down"] | None
    comment: str | None
    citations: list[CitationRef]
    suggestions: list[SuggestionOut] = Field(description="The nearest articles a refusal offered.")
    channel: str
    conversation_id: str
    reviewed_at: str | None
    promoted_at: str | None


class ReviewPage(BaseModel):
    items: list[ReviewItem]
    total: int
    limit: int
    offset: int


class PromoteIn(BaseModel):
    """How the turn enters the golden set. Without ``article`` and ``unanswerable``, the
    article its answer cited (else the nearest one it suggested, else unanswerable)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"article": "fine-tuning-cost", "facts": ["$150"]},
                {"unanswerable": True},
            ]
        },
    )

    article: str | None = Field(
        None, min_length=1, max_length=300, description="The article that should answer it."
    )
    anchor: str | None = Field(
        None, max_length=300, description="Its section (default: the best match in it)."
    )
    unanswerable: bool = Field(False, description="The docs should refuse it.")
    question: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_MESSAGE,
        description="The golden question's text (default: the standalone query).",
    )
    facts: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Words or numbers a good answer contains (kb eval checks them).",
    )


class Promoted(BaseModel):
    id: str = Field(description="The golden question's id.")
    file: str | None = Field(
        description="The golden file the line was appended to (null: replicas on a shared "
        "database keep it there only, see GET /v1/admin/golden)."
    )
    line: dict[str, object]
    item: ReviewItem
