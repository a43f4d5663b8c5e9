"""The conversation log as every answering surface sees it: ``record`` one turn, ``rate``
one turn. Both return at once (the writer thread does the I/O); with ``KB_ANALYTICS=off``
they do nothing at all and no file is ever created.

What a turn keeps: the question (capped), the standalone query, the answer (capped),
grounded or the refusal code and detail, cited articles and sections with their quotes,
the best score, latency, index version, channel, conversation id, and later the rating.
Never an IP address, a user agent or a token.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from enum import StrEnum

from kbcore.answering.models import Answer, Turn
from kbcore.settings import Settings
from service.analytics.store import ConversationStore, RatingRow, TurnRow
from service.analytics.writer import LogWriter
from service.database.engine import Database

MAX_QUESTION = 500  # characters of a question (and of its standalone query) kept
MAX_ANSWER = 4000
MAX_QUOTE = 600
MAX_COMMENT = 1000


class Channel(StrEnum):
    """Where a question was asked."""

    WIDGET = "widget"
    REST = "rest"
    OPENAI = "openai"
    MCP = "mcp"
    CLI = "cli"


def new_message_id() -> str:
    """The id of one answer: returned with it, accepted by ``POST /v1/feedback``."""
    return "m-" + secrets.token_hex(12)


def new_conversation_id(channel: Channel) -> str:
    """A conversation id for surfaces whose protocol has none (OpenAI-compatible, MCP, CLI)."""
    return f"{channel.value}-{secrets.token_hex(8)}"


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def turn_row(
    *,
    message_id: str,
    channel: Channel,
    conversation_id: str,
    question: str,
    history: Sequence[Turn],
    answer: Answer,
    latency_ms: float,
    at: dt.datetime,
) -> TurnRow:
    """What the log keeps of one answer."""
    refusal = answer.refusal
    citations = [
        {
            "article": c.article,
            "title": c.title,
            "heading": c.heading,
            "anchor": c.anchor,
            "url": c.url,
            "path": c.path,
            "quote": _cap(c.quote, MAX_QUOTE),
            "score": round(c.score, 6),
        }
        for c in answer.citations
    ]
    suggestions = [s.to_json() for s in answer.suggestions]
    if refusal is not None and refusal.score is not None:
        top: float | None = refusal.score
    else:
        top = max((c.score for c in answer.citations), default=None)
    query = answer.query or question
    moment = at.astimezone(dt.UTC)
    return TurnRow(
        id=message_id,
        at=moment.isoformat(timespec="microseconds"),
        day=moment.date().isoformat(),
        conversation_id=conversation_id,
        channel=channel.value,
        question=_cap(question, MAX_QUESTION),
        query=_cap(query, MAX_QUESTION),
        follow_up=bool(history) and query != question,
        answer=_cap(answer.answer, MAX_ANSWER),
        grounded=answer.grounded,
        reason=refusal.code.value if refusal is not None else None,
        reason_detail=_cap(refusal.detail, MAX_ANSWER) if refusal is not None else None,
        citations=json.dumps(citations, ensure_ascii=False),
        suggestions=json.dumps(suggestions, ensure_ascii=False),
        top_score=None if top is None else round(top, 6),
        floor=None if refusal is None or refusal.floor is None else round(refusal.floor, 6),
        latency_ms=round(latency_ms, 3),
        index_version=answer.index_version,
        answerer=answer.answerer,
        prompt_tokens=answer.usage.prompt if answer.usage is not None else None,
        completion_tokens=answer.usage.completion if answer.usage is not None else None,
    )


class ConversationLog:
    """Record turns and ratings without ever delaying or failing an answer."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.enabled = settings.analytics
        self.clock = clock
        self.database = database
        # A replica may be killed right after answering: on a shared database an answer
        # waits (briefly) for its turn to be committed; an embedded log does not.
        self.commit_wait_s = settings.log_commit_wait_s if database.path is None else 0.0
        self.store = ConversationStore(database)
        self.writer = LogWriter(
            database,
            settings.analytics_retention_days,
            clock=clock,
            max_rows=settings.analytics_max_rows,
            max_bytes=settings.analytics_max_mb * 1024 * 1024,
        )

    def start(self) -> None:
        """Start the writer now, so retention pruning runs even before any question."""
        if self.enabled:
            self.writer.start()

    def record(
        self,
        *,
        channel: Channel,
        message_id: str,
        conversation_id: str,
        question: str,
        answer: Answer,
        latency_ms: float,
        history: Sequence[Turn] = (),
    ) -> Future[bool] | None:
        """Log one answered (or refused) question. Never raises, never blocks; the
        future says when the turn is committed (None with analytics off)."""
        if not self.enabled:
            return None
        row = turn_row(
            message_id=message_id,
            channel=channel,
            conversation_id=conversation_id,
            question=question,
            history=history,
            answer=answer,
            latency_ms=latency_ms,
            at=self.clock(),
        )
        return self.writer.submit(row)

    async def committed(self, written: Future[bool] | None) -> None:
        """After ``record``: on a shared database wait up to ``KB_LOG_COMMIT_WAIT_S`` for
        the turn to be committed (never longer, never an error); at once otherwise."""
        if written is None or self.commit_wait_s <= 0 or written.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(written)), self.commit_wait_s)
        except TimeoutError:
            return

    def rate(self, message_id: str, rating: str, comment: str | None = None) -> None:
        """Join a visitor's rating to the turn it rates. Never raises, never blocks."""
        if not self.enabled:
            return
        at = self.clock().astimezone(dt.UTC).isoformat(timespec="microseconds")
        self.writer.submit(
            RatingRow(message_id, rating, _cap(comment, MAX_COMMENT) if comment else None, at)
        )

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued row is written or dropped."""
        return self.writer.flush(timeout) if self.enabled else True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the writer thread."""
        self.writer.close(timeout)
