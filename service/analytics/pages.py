"""HTML of the owner's dashboard: the page (no data, no token) and its panels (rendered on
the server for a token the page sends). Every string from the log is visitor input:
everything interpolated is escaped, and links are only ever site paths or http(s) URLs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from urllib.parse import urlsplit

from kbcore.catalog import ArticleInfo
from service.analytics.review import default_target
from service.analytics.schemas import AnalyticsReport, ReviewItem, ReviewPage

UNANSWERABLE = "__unanswerable__"
REASONS = {
    "no_sources": "nothing found",
    "low_similarity": "not covered",
    "unsupported_term": "unknown term",
    "missing_value": "value not stated",
    "not_covered": "question not answered",
    "unverified": "not verifiable",
    "thumbs_down": "thumbs down",
}


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def safe_href(url: str) -> str | None:
    """A site path or an http(s) URL, else None (never javascript:, data:...)."""
    if url.startswith("/") and not url.startswith("//"):
        return url
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _link(url: str, text: str) -> str:
    href = safe_href(url)
    if href is None:
        return _e(text)
    return f'<a href="{_e(href)}" target="_blank" rel="noopener noreferrer">{_e(text)}</a>'


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%"


def page_html(kb_name: str, enabled: bool) -> str:
    """The dashboard page. Data arrives only with a token (kept in sessionStorage)."""
    if enabled:
        body = """<form id="login" class="login" hidden>
<h2>Sign in</h2>
<p>Enter the admin token (<code>KB_ADMIN_TOKEN</code>). It is kept in this tab only.</p>
<input type="text" name="username" value="admin" autocomplete="username" hidden>
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required
 minlength="16" spellcheck="false">
<p id="login-error" class="error" role="alert" hidden></p>
<button type="submit">Open the dashboard</button>
</form>
<div id="panels" aria-live="polite"></div>"""
    else:
        body = """<p class="notice" id="disabled">The dashboard is off: set
<code>KB_ADMIN_TOKEN</code> (16+ characters) and restart the service.</p>"""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>{_e(kb_name)}: what visitors ask</title>
<link rel="stylesheet" href="/admin/static/uPlot.min.css">
<link rel="stylesheet" href="/admin/static/dashboard.css">
<script src="/admin/static/uPlot.iife.min.js" defer></script>
<script src="/admin/static/dashboard.js" defer></script>
</head>
<body data-state="{"login" if enabled else "disabled"}">
<header class="top"><div class="wrap">
<h1>{_e(kb_name)} <span>What visitors ask</span></h1>
<div class="controls" id="controls" hidden>
<label for="window">Window</label>
<select id="window">
<option value="7d">Last 7 days</option>
<option value="30d" selected>Last 30 days</option>
<option value="90d">Last 90 days</option>
</select>
<button type="button" id="signout" class="ghost">Sign out</button>
</div>
</div></header>
<main class="wrap">
<p id="status" class="status" role="status"></p>
{body}
<noscript><p class="notice">The dashboard needs JavaScript (the token stays in this tab).</p>
</noscript>
</main>
</body>
</html>
"""


def _channels(report: AnalyticsReport) -> str:
    parts = ", ".join(f"{_e(name)} {count}" for name, count in report.channels.items())
    return f'<p class="window" id="channels">Asked through: {parts or "—"}</p>'


def _cards(report: AnalyticsReport) -> str:
    totals, rates = report.totals, report.rates
    cards = [
        ("questions", "Questions", f"{totals.questions}", ""),
        ("answered", "Answered", f"{totals.answered}", _percent(rates.answered)),
        ("refused", "Refused", f"{totals.refused}", _percent(rates.refused)),
        ("thumbs_up", "Thumbs up", f"{totals.thumbs_up}", ""),
        ("thumbs_down", "Thumbs down", f"{totals.thumbs_down}", _percent(rates.thumbs_down)),
    ]
    items = "".join(
        f'<div class="card {key}"><span class="k">{label}</span>'
        f'<span class="v" data-total="{key}">{value}</span>'
        f"{f'<span class=rate>{rate}</span>' if rate else ''}</div>"
        for key, label, value, rate in cards
    )
    return f'<section class="cards" aria-label="Totals">{items}</section>'


def _chart(report: AnalyticsReport) -> str:
    series = {
        "dates": [d.date for d in report.daily],
        "answered": [d.answered for d in report.daily],
        "refused": [d.refused for d in report.daily],
        "thumbs_down": [d.thumbs_down for d in report.daily],
    }
    rows = "".join(
        f"<tr><td>{_e(d.date)}</td><td>{d.questions}</td><td>{d.answered}</td>"
        f"<td>{d.refused}</td><td>{d.thumbs_down}</td></tr>"
        for d in report.daily
        if d.questions
    )
    return f"""<section class="panel" id="trend" aria-labelledby="trend-title">
<h2 id="trend-title">Answered, refused and thumbs down per day</h2>
<div id="chart" class="chart" data-series="{_e(json.dumps(series))}" role="img"
 aria-label="Daily answered, refused and thumbs-down counts"></div>
<details><summary>Days as a table</summary>
<div class="scroll"><table class="days"><thead><tr><th>Date</th><th>Questions</th>
<th>Answered</th><th>Refused</th><th>Thumbs down</th></tr></thead>
<tbody>{rows or '<tr><td colspan="5">No questions in this window.</td></tr>'}</tbody></table>
</div></details>
</section>"""


def _examples(examples: Iterable[str]) -> str:
    # Each question in its own bidi island (<bdi>): right-to-left text or a stray override
    # character cannot reorder what follows it; long ones wrap (dashboard.css).
    return (
        '<ul class="examples">'
        + "".join(f'<li><bdi dir="auto">{_e(x)}</bdi></li>' for x in examples)
        + "</ul>"
    )


def _gaps(report: AnalyticsReport) -> str:
    rows = []
    for gap in report.gaps:
        reasons = "".join(
            f'<span class="chip {_e(code)}" title="{_e(code)}">{_e(REASONS.get(code, code))}'
            f" <b>{count}</b></span>"
            for code, count in gap.reasons.items()
        )
        near = gap.nearest_article
        nearest = '<span class="write">Write a new article</span>'
        if near is not None:
            target = _link(near.url, f"{near.title} › {near.heading}")
            nearest = f'<span class="extend">Extend</span> {target}'

        rows.append(
            f'<tr><td data-label="Asked" class="num">{gap.count}</td>'
            f'<td data-label="Questions">{_examples(gap.examples)}</td>'
            f'<td data-label="Why">{reasons}</td>'
            f'<td data-label="Nearest article">{nearest}</td></tr>'
        )
    body = "".join(rows) or '<tr><td colspan="4">No gaps in this window.</td></tr>'
    return f"""<section class="panel" id="gaps" aria-labelledby="gaps-title">
<h2 id="gaps-title">Content gaps</h2>
<p class="hint">Questions the docs refused or answered badly, grouped by meaning: extend the
nearest article, or write the missing one.</p>
<table class="stack"><thead><tr><th>Asked</th><th>Questions</th><th>Why</th>
<th>Nearest article</th></tr></thead><tbody>{body}</tbody></table>
</section>"""


def _top(report: AnalyticsReport) -> str:
    rows = []
    for question in report.top_questions:
        articles = ", ".join(_link(a.url, a.title) + f" ({a.count})" for a in question.articles)
        rows.append(
            f'<tr><td data-label="Asked" class="num">{question.count}</td>'
            f'<td data-label="Questions">{_examples(question.examples)}</td>'
            f'<td data-label="Answered from">{articles or "—"}</td>'
            f'<td data-label="Answered / refused" class="num">{question.answered} / '
            f"{question.refused}</td></tr>"
        )
    body = "".join(rows) or '<tr><td colspan="4">No questions in this window.</td></tr>'
    return f"""<section class="panel" id="top" aria-labelledby="top-title">
<h2 id="top-title">Top questions</h2>
<table class="stack"><thead><tr><th>Asked</th><th>Questions</th><th>Answered from</th>
<th>Answered / refused</th></tr></thead><tbody>{body}</tbody></table>
</section>"""


def _options(item: ReviewItem, catalog: dict[str, ArticleInfo]) -> str:
    target = default_target(item)
    chosen = target[0] if target is not None else UNANSWERABLE
    options = [
        f'<option value="{UNANSWERABLE}"{" selected" if chosen == UNANSWERABLE else ""}>'
        "Unanswerable: the docs should refuse it</option>"
    ]
    for slug, info in catalog.items():
        selected = " selected" if slug == chosen else ""
        options.append(f'<option value="{_e(slug)}"{selected}>{_e(info.title)}</option>')
    return "".join(options)


def _review_item(item: ReviewItem, catalog: dict[str, ArticleInfo]) -> str:
    why = (
        f'<span class="chip {_e(item.reason)}">{_e(REASONS.get(item.reason, item.reason))}</span>'
        if item.reason
        else ""
    )
    if item.rating == "down":
        why += '<span class="chip thumbs_down">thumbs down</span>'
    cites = "".join(
        f"<li>{_link(c.url, f'{c.title} › {c.heading}' if c.heading else c.title)}"
        f"<q>{_e(c.quote)}</q></li>"
        for c in item.citations
    )
    suggested = "".join(f"<li>{_link(s.url, s.title)}</li>" for s in item.suggestions)
    query = f'<p class="query">Read as: {_e(item.query)}</p>' if item.query != item.question else ""
    comment = f'<p class="comment">“{_e(item.comment)}”</p>' if item.comment else ""
    sources = (
        f'<h4>Cited</h4><ol class="cites">{cites}</ol>'
        if cites
        else (f'<h4>Suggested</h4><ul class="cites">{suggested}</ul>' if suggested else "")
    )
    state = " reviewed" if item.reviewed_at else ""
    promoted = '<span class="chip promoted">in the golden set</span>' if item.promoted_at else ""
    actions = ""
    if not item.promoted_at:
        actions = f"""<form class="promote" data-id="{_e(item.id)}">
<label>Expected article <select name="article">{_options(item, catalog)}</select></label>
<button type="submit">Add to golden set</button>
</form>"""
    if not item.reviewed_at:
        actions += (
            f'<button type="button" class="ghost" data-action="reviewed" data-id="{_e(item.id)}">'
            "Mark reviewed</button>"
        )
    return f"""<article class="item{state}" data-item="{_e(item.id)}">
<header><time datetime="{_e(item.at)}">{_e(item.at[:16].replace("T", " "))} UTC</time>
<span class="channel">{_e(item.channel)}</span>{why}{promoted}</header>
<h3><bdi dir="auto">{_e(item.question)}</bdi></h3>{query}{comment}
<div class="answer">{_e(item.answer)}</div>
{sources}
<div class="actions">{actions}</div>
</article>"""


def _review(page: ReviewPage, catalog: dict[str, ArticleInfo]) -> str:
    items = "".join(_review_item(item, catalog) for item in page.items)
    more = (
        f'<p class="hint">Showing {len(page.items)} of {page.total}; '
        "GET /v1/admin/review pages through the rest.</p>"
        if page.total > len(page.items)
        else ""
    )
    return f"""<section class="panel" id="review" aria-labelledby="review-title">
<h2 id="review-title">Review queue <span class="count">{page.total} open</span></h2>
<p class="hint">Refused and thumbs-down answers, newest first. Add one to the golden set and
<code>kb eval</code> checks it from now on.</p>
{items or '<p class="empty">Nothing to review.</p>'}{more}
</section>"""


def _cited(report: AnalyticsReport) -> str:
    most = "".join(
        f'<li>{_link(a.url, a.title)} <b>{a.count}</b><ul class="sections">'
        + "".join(f"<li>{_link(s.url, s.heading or a.title)} {s.count}</li>" for s in a.sections)
        + "</ul></li>"
        for a in report.most_cited
    )
    never = "".join(
        f"<li>{_link(a.url, a.title)} "
        + ('<span class="chip never">never cited</span>' if not a.cited else "")
        + f' <span class="muted">{len(a.sections)} uncited section'
        + ("s" if len(a.sections) != 1 else "")
        + "</span></li>"
        for a in report.never_cited
    )
    return f"""<section class="panel split" id="cited" aria-label="Citations">
<div><h2>Most cited</h2><ol class="cited">{most or "<li>No answers yet.</li>"}</ol></div>
<div><h2>Never cited</h2><ul class="never">{never or "<li>Every section was cited.</li>"}</ul>
</div>
</section>"""


def panels_html(
    report: AnalyticsReport, review: ReviewPage, catalog: dict[str, ArticleInfo]
) -> str:
    """The dashboard's panels for one window."""
    window = f"{report.window.since[:10]} to {report.window.until[:10]}"
    return (
        f'<p class="window">{_e(window)} (UTC), index {_e(report.index_version or "—")}</p>'
        + _cards(report)
        + _channels(report)
        + _chart(report)
        + _gaps(report)
        + _top(report)
        + _review(review, catalog)
        + _cited(report)
    )
