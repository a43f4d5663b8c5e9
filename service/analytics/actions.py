"""What the owner can ask of a running service (the JSON routes and the dashboard share
these): a report for a window, the review queue, and the two review actions.

All blocking (SQLite, embedding, the index): call them in a worker thread. Errors are
problems: 404 when analytics are off or the turn is unknown, 409 for a turn already
promoted, 422 for a choice the docs do not have, 503 when the log is unavailable.
"""

from __future__ import annotations

import datetime as dt
import logging

from fastapi import Path as PathParam
from sqlalchemy.exc import SQLAlchemyError

from service.analytics.docs import ServedDocs
from service.analytics.golden import DuplicateIdError, GoldenFile, GoldenFileError
from service.analytics.report import TOP, WindowError, build_report, time_window
from service.analytics.review import PromotionError, golden_line, review_item
from service.analytics.schemas import AnalyticsReport, Promoted, PromoteIn, ReviewItem, ReviewPage
from service.analytics.store import ConversationStore, DuplicatePromotionError
from service.database.engine import describe
from service.problems import Problem, unavailable
from service.state import ServiceState

ITEM_ID = PathParam(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="The turn's message_id.")
log = logging.getLogger(__name__)
FLUSH_S = 2.0  # how long a read waits for rows still queued, so the owner sees them


def require_analytics(state: ServiceState) -> None:
    """404 while ``KB_ANALYTICS=off``."""
    if not state.settings.analytics:
        raise Problem(
            404,
            "analytics are off (KB_ANALYTICS=off): no conversation is logged",
            slug="analytics-disabled",
        )


def _log_unavailable(exc: SQLAlchemyError) -> Problem:
    return unavailable(
        f"the conversation log is unavailable ({describe(exc)})", 10, slug="log-unavailable"
    )


def served_docs(state: ServiceState) -> ServedDocs:
    runtime = state.require_runtime()
    version, catalog = state.served_catalog()
    return ServedDocs.load(runtime.retriever, version, catalog)


def analytics(
    state: ServiceState, since: str | None, until: str | None, limit: int = TOP
) -> AnalyticsReport:
    """The report for a window (default: the last 30 days)."""
    require_analytics(state)
    try:
        window = time_window(since, until, dt.datetime.now(dt.UTC))
    except WindowError as exc:
        raise Problem(422, str(exc), slug="invalid-window") from exc
    conversations = state.conversation_log()
    conversations.flush(FLUSH_S)
    docs = served_docs(state)
    try:
        return build_report(conversations.store, window, docs.retriever.embedder, docs, limit)
    except SQLAlchemyError as exc:
        raise _log_unavailable(exc) from exc


def review(state: ServiceState, status: str, limit: int, offset: int) -> ReviewPage:
    """Refused and thumbs-down turns, newest first."""
    require_analytics(state)
    conversations = state.conversation_log()
    conversations.flush(FLUSH_S)
    try:
        rows, total = conversations.store.review(status, limit, offset)
    except SQLAlchemyError as exc:
        raise _log_unavailable(exc) from exc
    return ReviewPage(
        items=[review_item(row) for row in rows], total=total, limit=limit, offset=offset
    )


def _item(state: ServiceState, item_id: str) -> ReviewItem:
    conversations = state.conversation_log()
    conversations.flush(FLUSH_S)
    try:
        row = conversations.store.get(item_id)
    except SQLAlchemyError as exc:
        raise _log_unavailable(exc) from exc
    if row is None:
        raise Problem(
            404, f"no refused or thumbs-down turn '{item_id}' in the log", slug="turn-not-found"
        )
    return review_item(row)


def mark_reviewed(state: ServiceState, item_id: str) -> ReviewItem:
    """Take a turn off the open queue."""
    require_analytics(state)
    _item(state, item_id)
    try:
        state.conversation_log().store.mark(item_id, promoted=False)
    except SQLAlchemyError as exc:
        raise _log_unavailable(exc) from exc
    return _item(state, item_id)


def promote(state: ServiceState, item_id: str, choice: PromoteIn, golden: GoldenFile) -> Promoted:
    """Append the turn to the golden file and mark it reviewed and promoted."""
    require_analytics(state)
    item = _item(state, item_id)
    if item.promoted_at is not None:
        raise Problem(409, f"turn '{item_id}' is already in the golden set", slug="promoted")
    try:
        line = golden_line(item, choice, served_docs(state))
    except PromotionError as exc:
        raise Problem(422, str(exc), slug="invalid-promotion") from exc
    store = state.conversation_log().store
    if state.databases.shared:
        # Replicas: the database is the golden set (GET /v1/admin/golden); this replica's
        # KB_GOLDEN_FILE, when its folder exists, gets a copy of the line.
        _record_promotion(store, item_id, line)
        try:
            path: str | None = str(golden.append(line))
        except GoldenFileError as exc:
            log.info("golden file not appended (the database has the promotion): %s", exc)
            path = None
    else:
        try:
            path = str(golden.append(line))
        except DuplicateIdError as exc:
            raise Problem(409, str(exc), slug="promoted") from exc
        except GoldenFileError as exc:
            raise Problem(500, str(exc), slug="golden-file") from exc
        _record_promotion(store, item_id, line)
    return Promoted(id=str(line["id"]), file=path, line=line, item=_item(state, item_id))


def _record_promotion(store: ConversationStore, item_id: str, line: dict[str, object]) -> None:
    try:
        store.promote(item_id, line)
    except DuplicatePromotionError as exc:
        raise Problem(409, str(exc), slug="promoted") from exc
    except SQLAlchemyError as exc:
        raise _log_unavailable(exc) from exc


def promoted(state: ServiceState) -> list[dict[str, object]]:
    """Every question promoted to the golden set, by any replica, oldest first."""
    require_analytics(state)
    try:
        return state.conversation_log().store.promoted()
    except SQLAlchemyError as exc:
        raise _log_unavailable(exc) from exc
