"""Analytics of a time window of the conversation log: totals and rates, the daily trend,
the top questions, the content gaps, and the most- and never-cited articles and sections.

Questions are compared by their standalone query (a follow-up's "and for GPT-4?" is
counted as the question it stands for), grouped by meaning (``clusters``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kbcore.embedding.base import Embedder
from service.analytics.clusters import MAX_TEXTS, Cluster, cluster
from service.analytics.docs import ServedDocs
from service.analytics.schemas import (
    AnalyticsReport,
    ArticleCount,
    CitedArticle,
    Day,
    Gap,
    Rates,
    SectionCount,
    SectionRef,
    TopQuestion,
    Totals,
    UncitedArticle,
    Window,
)
from service.analytics.store import ConversationStore

DEFAULT_DAYS = 30
TOP = 20
EXAMPLES = 3
ARTICLES_PER_QUESTION = 3
MOST_CITED = 10
SECTIONS_PER_ARTICLE = 5
_RELATIVE = re.compile(r"^(\d{1,5})\s*([dhw])$")


class WindowError(ValueError):
    """A ``since``/``until`` value that is not a date, a time or a relative age."""


@dataclass(frozen=True)
class TimeWindow:
    """``[since, until)``, in UTC."""

    since: dt.datetime
    until: dt.datetime

    def days(self) -> list[str]:
        first = self.since.astimezone(dt.UTC).date()
        last = (self.until.astimezone(dt.UTC) - dt.timedelta(microseconds=1)).date()
        count = (last - first).days + 1
        return [(first + dt.timedelta(days=n)).isoformat() for n in range(max(count, 0))]

    def to_model(self) -> Window:
        return Window(
            since=self.since.isoformat(timespec="seconds"),
            until=self.until.isoformat(timespec="seconds"),
        )


def moment(value: str, now: dt.datetime, *, end: bool = False) -> dt.datetime:
    """``7d``, ``24h`` or ``2w`` ago; a date (``YYYY-MM-DD``: its start, or with ``end``
    the start of the next day, so both days of a range are included); or an ISO 8601 time
    (UTC unless it says otherwise)."""
    text = value.strip()
    relative = _RELATIVE.match(text.lower())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        hours = {"h": 1, "d": 24, "w": 24 * 7}[unit] * amount
        return now - dt.timedelta(hours=hours)
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return start + dt.timedelta(days=1) if end else start
        parsed = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise WindowError(
            f"'{value}' is not a date (YYYY-MM-DD), a time (ISO 8601) or an age (7d, 24h, 2w)"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def time_window(since: str | None, until: str | None, now: dt.datetime) -> TimeWindow:
    """The window the caller asked for; by default the last 30 days up to now."""
    end = moment(until, now, end=True) if until else now
    start = moment(since, now) if since else end - dt.timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise WindowError("since must be before until")
    return TimeWindow(start.astimezone(dt.UTC), end.astimezone(dt.UTC))


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _citations(row: dict[str, Any]) -> list[dict[str, Any]]:
    value = json.loads(row.get("citations") or "[]")
    return value if isinstance(value, list) else []


def _distinct(rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[int]]:
    """Distinct queries and how often each was asked, most asked first (capped)."""
    counts = Counter(str(row["query"]) for row in rows)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:MAX_TEXTS]
    return [text for text, _ in ranked], [count for _, count in ranked]


def _grouped(
    rows: Sequence[dict[str, Any]], embedder: Embedder, store: ConversationStore
) -> list[tuple[Cluster, list[str], list[dict[str, Any]]]]:
    """Clusters of ``rows`` with their texts (most asked first) and their rows."""
    texts, weights = _distinct(rows)
    by_text: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_text.setdefault(str(row["query"]), []).append(row)
    out = []
    for found in cluster(texts, weights, embedder, store):
        members = [texts[i] for i in found.members]
        out.append((found, members, [row for text in members for row in by_text[text]]))
    return out


def _article_counts(
    rows: Iterable[dict[str, Any]], docs: ServedDocs | None, limit: int
) -> list[ArticleCount]:
    counts: Counter[str] = Counter()
    titles: dict[str, str] = {}  # as cited, for articles the served version no longer has
    for row in rows:
        seen = set()
        for citation in _citations(row):
            slug = str(citation.get("article", ""))
            if slug and slug not in seen:
                seen.add(slug)
                counts[slug] += 1
                titles.setdefault(slug, str(citation.get("title", slug)))
    out = []
    for slug, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]:
        info = docs.catalog.get(slug) if docs is not None else None
        title = info.title if info is not None else titles[slug]
        url = info.url if info is not None else ""
        out.append(ArticleCount(article=slug, title=title, url=url, count=count))
    return out


def top_questions(
    rows: Sequence[dict[str, Any]],
    embedder: Embedder,
    store: ConversationStore,
    docs: ServedDocs | None,
    limit: int = TOP,
) -> list[TopQuestion]:
    """The most asked questions, each however it was phrased."""
    out = []
    for _, texts, members in _grouped(rows, embedder, store)[:limit]:
        answered = [row for row in members if row["grounded"]]
        out.append(
            TopQuestion(
                count=len(members),
                examples=texts[:EXAMPLES],
                articles=_article_counts(answered, docs, ARTICLES_PER_QUESTION),
                answered=len(answered),
                refused=len(members) - len(answered),
            )
        )
    return out


FAR_REASONS = frozenset({"low_similarity", "no_sources"})


def gaps(
    rows: Sequence[dict[str, Any]],
    embedder: Embedder,
    store: ConversationStore,
    docs: ServedDocs | None,
    limit: int = TOP,
) -> list[Gap]:
    """Refused and thumbs-down questions grouped by meaning: what the docs lack."""
    wanting = [row for row in rows if not row["grounded"] or row["rating"] == "down"]
    out = []
    for found, texts, members in _grouped(wanting, embedder, store)[:limit]:
        reasons: Counter[str] = Counter()
        for row in members:
            if not row["grounded"]:
                reasons[str(row["reason"] or "unverified")] += 1
            if row["rating"] == "down":
                reasons["thumbs_down"] += 1
        # Refused only as far from every section: nothing to extend, an article to write.
        far = all(
            not row["grounded"] and row["reason"] in FAR_REASONS and row["rating"] != "down"
            for row in members
        )
        nearest = None if far or docs is None else docs.nearest(texts[0], found.centroid)
        out.append(
            Gap(
                count=len(members),
                examples=texts[:EXAMPLES],
                reasons=dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
                nearest_article=nearest,
            )
        )
    return out


def citations(
    rows: Sequence[dict[str, Any]], docs: ServedDocs | None
) -> tuple[list[CitedArticle], list[UncitedArticle]]:
    """The most cited articles (with their most cited sections) and, in the served
    version, the articles and sections no answer cited."""
    articles: Counter[str] = Counter()
    sections: Counter[tuple[str, str]] = Counter()
    seen_sections: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if not row["grounded"]:
            continue
        cited = _citations(row)
        for slug in {str(c.get("article", "")) for c in cited}:
            articles[slug] += 1
        for key in {(str(c.get("article", "")), str(c.get("anchor", ""))) for c in cited}:
            sections[key] += 1
        for c in cited:
            seen_sections.setdefault((str(c.get("article", "")), str(c.get("anchor", ""))), c)
    most = []
    ranked = sorted(articles.items(), key=lambda item: (-item[1], item[0]))[:MOST_CITED]
    for slug, count in ranked:
        info = docs.catalog.get(slug) if docs is not None else None
        top = sorted(
            ((key, n) for key, n in sections.items() if key[0] == slug),
            key=lambda item: (-item[1], item[0][1]),
        )[:SECTIONS_PER_ARTICLE]
        first = seen_sections.get((slug, top[0][0][1])) if top else None
        most.append(
            CitedArticle(
                article=slug,
                title=info.title if info else str((first or {}).get("title", slug)),
                url=info.url if info else "",
                count=count,
                sections=[
                    SectionCount(
                        anchor=anchor,
                        heading=str(seen_sections[(slug, anchor)].get("heading", "")),
                        url=str(seen_sections[(slug, anchor)].get("url", "")),
                        count=n,
                    )
                    for (_, anchor), n in top
                ],
            )
        )
    never: list[UncitedArticle] = []
    if docs is not None:
        for slug, refs in docs.sections().items():
            uncited = [ref for ref in refs if (slug, ref.anchor) not in sections]
            if not uncited:
                continue
            info = docs.catalog.get(slug)
            never.append(
                UncitedArticle(
                    article=slug,
                    title=info.title if info else slug,
                    url=info.url if info else "",
                    cited=slug in articles,
                    sections=[SectionRef(**ref.model_dump()) for ref in uncited],
                )
            )
        never.sort(key=lambda item: (item.cited, -len(item.sections), item.title.lower()))
    return most, never


def build_report(
    store: ConversationStore,
    window: TimeWindow,
    embedder: Embedder,
    docs: ServedDocs | None,
    limit: int = TOP,
) -> AnalyticsReport:
    """The whole report for one window (blocking: embeds and clusters)."""
    rows = store.window(window.since, window.until)
    answered = sum(1 for row in rows if row["grounded"])
    up = sum(1 for row in rows if row["rating"] == "up")
    down = sum(1 for row in rows if row["rating"] == "down")
    daily = {day: Day(date=day, questions=0, answered=0, refused=0, thumbs_down=0)
             for day in window.days()}  # fmt: skip
    for row in rows:
        day = daily.get(str(row["day"]))
        if day is None:
            continue
        day.questions += 1
        day.answered += 1 if row["grounded"] else 0
        day.refused += 0 if row["grounded"] else 1
        day.thumbs_down += 1 if row["rating"] == "down" else 0
    most, never = citations(rows, docs)
    return AnalyticsReport(
        window=window.to_model(),
        totals=Totals(
            questions=len(rows),
            answered=answered,
            refused=len(rows) - answered,
            thumbs_up=up,
            thumbs_down=down,
        ),
        rates=Rates(
            answered=_share(answered, len(rows)),
            refused=_share(len(rows) - answered, len(rows)),
            thumbs_down=_share(down, len(rows)),
        ),
        channels=dict(Counter(str(row["channel"]) for row in rows).most_common()),
        daily=list(daily.values()),
        top_questions=top_questions(rows, embedder, store, docs, limit),
        gaps=gaps(rows, embedder, store, docs, limit),
        most_cited=most,
        never_cited=never,
        index_version=docs.version if docs is not None else None,
    )
