"""`kb analytics`: what visitors asked and what the docs lacked, from a terminal.

Asks the running `kb serve` of ``KB_DATA_DIR`` when there is one (its runtime file's
token), or a service named by ``--server URL`` (admin token), for ``GET
/v1/admin/analytics``; else reads the conversation log and the embedded index itself.
Output: a readable summary, ``--json`` (the API's object) or ``--csv`` (one table).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from typing import Any

from kbcore.errors import KBError
from kbcore.settings import Settings
from service.analytics.schemas import AnalyticsReport


def _local(args: argparse.Namespace, settings: Settings) -> AnalyticsReport:
    from kbcore.runtime import Runtime
    from service.analytics.docs import ServedDocs
    from service.analytics.report import WindowError, build_report, time_window
    from service.analytics.store import ConversationStore
    from service.database.provider import Databases

    database = Databases(settings).get("log")
    store = ConversationStore(database)
    if not store.exists():
        state = "on" if settings.analytics else "off (KB_ANALYTICS=off)"
        raise KBError(f"no conversation log at {database.path} yet; analytics are {state}")
    try:
        window = time_window(args.since, args.until, dt.datetime.now(dt.UTC))
    except WindowError as exc:
        raise KBError(str(exc)) from exc
    runtime = Runtime.open(settings)
    try:
        docs = ServedDocs.load(runtime.retriever)
        return build_report(store, window, runtime.embedder, docs, args.limit)
    finally:
        runtime.close()
        database.dispose()


def _remote(args: argparse.Namespace, settings: Settings) -> AnalyticsReport | None:
    """The report from a server: ``--server URL`` (admin token), else the running `kb
    serve` of this data folder (its runtime file's token); None when none runs."""
    from kbcli.remote import RemoteServer, running_server

    server: RemoteServer | None
    if args.server:
        if settings.admin_token is None:
            raise KBError("set KB_ADMIN_TOKEN to the server's admin token to use --server")
        server = RemoteServer(args.server, settings.admin_token.get_secret_value())
    else:
        server = running_server(settings)
        if server is None:
            return None
    params = {k: v for k, v in (("since", args.since), ("until", args.until)) if v}
    params["limit"] = str(args.limit)
    return AnalyticsReport.model_validate(server.get_json("/v1/admin/analytics", params=params))


def _csv(report: AnalyticsReport, table: str) -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    if table == "daily":
        out.writerow(["date", "questions", "answered", "refused", "thumbs_down"])
        for day in report.daily:
            out.writerow([day.date, day.questions, day.answered, day.refused, day.thumbs_down])
    elif table == "questions":
        out.writerow(["count", "answered", "refused", "examples", "articles"])
        for q in report.top_questions:
            articles = " | ".join(f"{a.article} ({a.count})" for a in q.articles)
            out.writerow([q.count, q.answered, q.refused, " | ".join(q.examples), articles])
    elif table == "gaps":
        out.writerow(["count", "reasons", "examples", "nearest_article", "nearest_url"])
        for gap in report.gaps:
            near = gap.nearest_article
            reasons = " | ".join(f"{code} ({n})" for code, n in gap.reasons.items())
            out.writerow(
                [
                    gap.count,
                    reasons,
                    " | ".join(gap.examples),
                    near.article if near else "",
                    near.url if near else "",
                ]
            )
    else:
        out.writerow(["article", "anchor", "heading", "cited"])
        for article in report.most_cited:
            for section in article.sections:
                out.writerow([article.article, section.anchor, section.heading, section.count])
        for uncited in report.never_cited:
            for ref in uncited.sections:
                out.writerow([uncited.article, ref.anchor, ref.heading, 0])


def _text(report: AnalyticsReport) -> None:
    t, r = report.totals, report.rates
    print(f"{report.window.since[:10]} to {report.window.until[:10]} (UTC)")
    print(
        f"{t.questions} questions: {t.answered} answered ({r.answered:.0%}), {t.refused} "
        f"refused ({r.refused:.0%}); thumbs up {t.thumbs_up}, down {t.thumbs_down}"
    )
    print("\nContent gaps (refused or thumbs down):")
    for gap in report.gaps or []:
        near = gap.nearest_article
        where = f"extend {near.url}" if near else "write a new article"
        reasons = ", ".join(f"{code} {n}" for code, n in gap.reasons.items())
        print(f"  {gap.count:>4}  {gap.examples[0]}  [{reasons}] -> {where}")
        for example in gap.examples[1:]:
            print(f"        {example}")
    if not report.gaps:
        print("  none")
    print("\nTop questions:")
    for q in report.top_questions:
        articles = ", ".join(a.article for a in q.articles) or "-"
        print(f"  {q.count:>4}  {q.examples[0]}  ({q.answered} answered) <- {articles}")
    if not report.top_questions:
        print("  none")
    print("\nMost cited:")
    for article in report.most_cited:
        print(f"  {article.count:>4}  {article.title}  {article.url}")
    never = [a for a in report.never_cited if not a.cited]
    if never:
        print("\nNever cited:")
        for uncited in never:
            print(f"        {uncited.title}  {uncited.url}")


def run_analytics(args: argparse.Namespace, settings: Settings) -> int:
    report = _remote(args, settings) or _local(args, settings)
    if args.json:
        data: dict[str, Any] = report.model_dump(mode="json")
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    elif args.csv:
        _csv(report, args.table)
    else:
        _text(report)
    return 0
