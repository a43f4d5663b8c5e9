"""`kb ask` logs its turns (channel cli) and `kb analytics` reports them, as text, JSON
(the API's object) and CSV, run as real subprocesses."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

from service.analytics.store import FILE_NAME
from tests.kbcli.test_cli import env, run  # noqa: F401  (the fixture)


def test_kb_ask_is_logged_and_kb_analytics_reports_it(env: dict[str, str]) -> None:  # noqa: F811
    run(["ingest", "--json"], env)
    answered = json.loads(
        run(["ask", "how are vectors used for similarity search?", "--json"], env).stdout
    )
    refused = json.loads(run(["ask", "what is the capital of australia?", "--json"], env).stdout)
    assert answered["grounded"] and not refused["grounded"]
    assert answered["message_id"].startswith("m-") and answered["conversation_id"].startswith(
        "cli-"
    )

    database = Path(env["KB_DATA_DIR"]) / FILE_NAME
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT id, channel, grounded, reason FROM turns ORDER BY at"
        ).fetchall()
    assert rows == [
        (answered["message_id"], "cli", 1, None),
        (refused["message_id"], "cli", 0, "low_similarity"),
    ]

    report = json.loads(run(["analytics", "--since", "1d", "--json"], env).stdout)
    assert report["totals"] == {
        "questions": 2,
        "answered": 1,
        "refused": 1,
        "thumbs_up": 0,
        "thumbs_down": 0,
    }
    assert report["channels"] == {"cli": 2}
    (gap,) = report["gaps"]
    assert gap["examples"] == ["what is the capital of australia?"]
    assert gap["reasons"] == {"low_similarity": 1} and gap["nearest_article"] is None
    cited = {c["article"] for c in answered["citations"]}
    assert {a["article"] for a in report["most_cited"]} == cited
    never = {a["article"] for a in report["never_cited"] if not a["cited"]}
    assert never == {"alpha", "beta"} - cited

    text = run(["analytics"], env).stdout
    assert "2 questions: 1 answered (50%), 1 refused (50%)" in text
    assert "what is the capital of australia?" in text and "write a new article" in text

    gaps = list(
        csv.DictReader(io.StringIO(run(["analytics", "--csv", "--table", "gaps"], env).stdout))
    )
    assert gaps == [
        {
            "count": "1",
            "reasons": "low_similarity (1)",
            "examples": "what is the capital of australia?",
            "nearest_article": "",
            "nearest_url": "",
        }
    ]
    daily = list(
        csv.reader(io.StringIO(run(["analytics", "--csv", "--table", "daily"], env).stdout))
    )
    assert daily[0] == ["date", "questions", "answered", "refused", "thumbs_down"]
    assert sum(int(row[1]) for row in daily[1:]) == 2

    bad = run(["analytics", "--since", "last tuesday"], env, check=False)
    assert bad.returncode == 2 and "7d" in bad.stderr and "Traceback" not in bad.stderr


def test_kb_analytics_without_a_log_says_so(env: dict[str, str]) -> None:  # noqa: F811
    result = run(["analytics"], {**env, "KB_ANALYTICS": "off"}, check=False)
    assert result.returncode == 2
    assert "no conversation log" in result.stderr and "KB_ANALYTICS=off" in result.stderr
