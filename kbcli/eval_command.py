"""`kb eval` command: metrics table or JSON, thresholds, saved results and diffs."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from kbcli.evaluate import (
    diff_results,
    evaluate,
    failures,
    load_thresholds,
    save_results,
    table,
)
from kbcore.errors import KBError
from kbcore.settings import Settings


def _base_results(base: str, settings: Settings, golden: Path) -> dict[str, object]:
    """Saved results from a file, or fresh ones from the content of a git ref."""
    path = Path(base)
    if path.is_file():
        loaded: dict[str, object] = json.loads(path.read_text())
        return loaded
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", base, settings.content_dir.as_posix()],
            check=True,
            capture_output=True,
        ).stdout
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        raise KBError(f"--diff {base}: not a results file or a git ref with the content") from exc
    with tempfile.TemporaryDirectory(prefix="kb-eval-base-") as tmp:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        base_settings = settings.model_copy(
            update={"content_dir": Path(tmp) / settings.content_dir}
        )
        report = evaluate(base_settings, golden)
        out = Path(tmp) / "base.json"
        save_results(report, out)
        loaded = json.loads(out.read_text())
        return loaded


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    golden = Path(args.golden)
    report = evaluate(settings, golden, Path(args.data) if args.data else None)
    minimum, maximum = load_thresholds(Path(args.thresholds))
    failed = failures(report.metrics, minimum, maximum)
    if args.save:
        save_results(report, Path(args.save))
    changes = None
    if args.diff:
        changes = diff_results(_base_results(args.diff, settings, golden), report)
    if args.json:
        body = {**report.to_json(), "passed": not failed, "failures": failed}
        if changes is not None:
            body["changes"] = changes
        sys.stdout.write(json.dumps(body) + "\n")
    else:
        print(table(report.metrics, minimum, maximum))
        print(
            f"\n{report.counts['questions']} questions ({report.counts['answerable']} answerable, "
            f"{report.counts['unanswerable']} unanswerable, {report.counts['follow_ups']} "
            "follow-ups)"
        )
        if changes is not None:
            print(f"\n{len(changes)} questions changed against {args.diff}:")
            for change in changes:
                print(f"  {change['id']}: {change['question']}\n      {change['change']}")
        if failed:
            print("\nFAILED: " + "; ".join(failed))
        else:
            print("\nall thresholds met")
    return 1 if failed else 0
