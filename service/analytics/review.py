"""The review queue: refused and thumbs-down turns, and what promoting one to the golden
set writes."""

from __future__ import annotations

from typing import Any

from service.analytics.docs import ServedDocs
from service.analytics.schemas import CitationRef, PromoteIn, ReviewItem
from service.analytics.store import loads
from service.chat.schemas import SuggestionOut


class PromotionError(ValueError):
    """The owner's choice does not fit the served docs (unknown article or section)."""


def review_item(row: dict[str, Any]) -> ReviewItem:
    """A logged turn as the review queue shows it."""
    return ReviewItem(
        id=row["id"],
        at=row["at"],
        question=row["question"],
        query=row["query"],
        answer=row["answer"],
        grounded=bool(row["grounded"]),
        reason=row["reason"],
        reason_detail=row["reason_detail"],
        rating=row["rating"],
        comment=row["comment"],
        citations=[
            CitationRef(
                article=str(c.get("article", "")),
                title=str(c.get("title", "")),
                heading=str(c.get("heading", "")),
                anchor=str(c.get("anchor", "")),
                url=str(c.get("url", "")),
                quote=str(c.get("quote", "")),
            )
            for c in loads(row["citations"])
        ],
        suggestions=[SuggestionOut.model_validate(s) for s in loads(row["suggestions"])],
        channel=row["channel"],
        conversation_id=row["conversation_id"],
        reviewed_at=row["reviewed_at"],
        promoted_at=row["promoted_at"],
    )


def golden_id(item: ReviewItem) -> str:
    """The golden question's id: stable per turn, so a turn is promoted once."""
    return "log-" + item.id.removeprefix("m-")[:16]


def default_target(item: ReviewItem) -> tuple[str, str] | None:
    """The article (and section) a promotion expects unless the owner says otherwise: the
    one the answer cited, else the nearest one a refusal suggested; None = unanswerable."""
    if item.citations:
        return item.citations[0].article, item.citations[0].anchor
    if item.suggestions:
        return item.suggestions[0].article, ""
    return None


def golden_line(item: ReviewItem, choice: PromoteIn, docs: ServedDocs) -> dict[str, Any]:
    """The line ``kb eval`` reads for this turn (``article``/``anchor`` format)."""
    question = (choice.question or item.query or item.question).strip()
    target: tuple[str, str] | None
    if choice.unanswerable:
        target = None
    elif choice.article is not None:
        target = (choice.article, choice.anchor or "")
    else:
        target = default_target(item)
    article, anchor = "", ""
    if target is not None:
        article, anchor = target
        if article not in docs.catalog:
            raise PromotionError(f"no article '{article}' in the served index")
        anchors = {ref.anchor for ref in docs.sections().get(article, [])}
        if anchor and anchor not in anchors:
            raise PromotionError(f"article '{article}' has no section '{anchor}'")
        if not anchor:
            anchor = docs.best_anchor(question, article)
    facts = [fact.strip() for fact in choice.facts if fact.strip()]
    line: dict[str, object] = {
        "id": golden_id(item),
        "question": question,
        "answerable": target is not None,
        "article": article,
        "anchor": anchor,
        "facts": facts,
        "follow_up_of": None,
    }
    if target is None:
        # A visitor's question the docs should refuse: a near miss until an owner says
        # otherwise (kb eval reports refusals of near misses on their own).
        line = {**line, "kind": "near_miss"}
    return line
