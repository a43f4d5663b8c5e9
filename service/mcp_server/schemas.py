"""Typed inputs and structured outputs of the MCP tools (their JSON schemas come from these)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from service.chat.schemas import (
    MAX_TURN,
    CitationOut,
    RefusalOut,
    SuggestionOut,
    VerificationOut,
)


class HistoryTurn(BaseModel):
    """One earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(max_length=MAX_TURN)


class SectionHit(BaseModel):
    """A ranked article section."""

    article: str = Field(description="The article's slug (for get_article).")
    title: str = Field(description="The article's title.")
    heading: str = Field(description="The section's heading.")
    anchor: str = Field(description="The section's anchor (for get_article).")
    url: str = Field(description="The section on the published site: cite this.")
    path: str = Field(description="The source file, relative to the content folder.")
    text: str = Field(description="The best matching passage of the section.")
    score: float


class SearchDocsResult(BaseModel):
    hits: list[SectionHit]
    index_version: str


class AskResult(BaseModel):
    """A cited answer, or an honest refusal with the nearest articles."""

    answer: str = Field(description="The answer; [n] marks the claim citation n supports.")
    citations: list[CitationOut] = Field(
        description="Verified quotes: each is a verbatim span of the section at its url."
    )
    grounded: bool = Field(description="False when the knowledge base does not cover it.")
    refusal: RefusalOut | None = Field(description="Why it was not answered (null if grounded).")
    suggestions: list[SuggestionOut] = Field(description="Nearest articles, when refused.")
    index_version: str
    message_id: str = Field(description="This answer's id (POST /v1/feedback rates it).")
    verification: VerificationOut | None = Field(
        None, description="With a language model: its claims checked, kept and removed."
    )


class ArticleDoc(BaseModel):
    """An article, or one section of it, as Markdown."""

    slug: str
    title: str
    heading: str = Field(description="The section's heading (the title for the whole article).")
    anchor: str = Field(description='The section\'s anchor ("" for the whole article).')
    url: str = Field(description="Where it is published: cite this.")
    path: str = Field(description="The source file, relative to the content folder.")
    markdown: str = Field(
        description="The Markdown as the page reads: generator syntax resolved, links absolute."
    )
    index_version: str


class ArticleEntry(BaseModel):
    slug: str
    title: str
    summary: str
    tags: list[str]
    updated: str
    url: str
    path: str


class ArticleList(BaseModel):
    articles: list[ArticleEntry]
    index_version: str
