"""`kb eval` command: question sets, metrics tables or JSON, thresholds, saved results and
diffs.

Sets are named in the thresholds file (``[sets.NAME]`` with ``content``, ``golden`` and
their own ``min``/``max``): ``kb eval`` runs ``golden``, ``kb eval --set NAME`` one set,
``kb eval --all`` every set (CI). ``--content``/``--golden`` run any tree and question
file; thresholds then come from the set with that question file, else the file's
top-level ``[min]``/``[max]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from kbcli.evaluate import EvalReport, diff_results, evaluate, failures, save_results, table
from kbcore.errors import KBError
from kbcore.settings import Settings

DEFAULT_SET = "golden"
DEFAULT_GOLDEN = Path("eval/golden.jsonl")


@dataclass(frozen=True)
class EvalSet:
    """A question set over a docs tree, with its thresholds."""

    name: str
    content: Path | None
    golden: Path
    minimum: dict[str, float] = field(default_factory=dict)
    maximum: dict[str, float] = field(default_factory=dict)


def _bounds(table: dict[str, Any], key: str) -> dict[str, float]:
    return {k: float(v) for k, v in table.get(key, {}).items()}


def load_sets(path: Path) -> tuple[dict[str, EvalSet], EvalSet]:
    """The named sets of a thresholds file, and the default for ad-hoc runs."""
    data = tomllib.loads(path.read_text()) if path.is_file() else {}
    sets = {
        name: EvalSet(
            name=name,
            content=Path(spec["content"]) if spec.get("content") else None,
            golden=Path(spec.get("golden", DEFAULT_GOLDEN)),
            minimum=_bounds(spec, "min"),
            maximum=_bounds(spec, "max"),
        )
        for name, spec in data.get("sets", {}).items()
    }
    default = EvalSet("", None, DEFAULT_GOLDEN, _bounds(data, "min"), _bounds(data, "max"))
    return sets, default


def chosen_sets(args: argparse.Namespace) -> list[EvalSet]:
    """The sets this invocation runs."""
    sets, default = load_sets(Path(args.thresholds))
    if args.all:
        if not sets:
            raise KBError(f"{args.thresholds} names no [sets.*] to run")
        return list(sets.values())
    if args.set:
        unknown = [name for name in args.set if name not in sets]
        if unknown:
            raise KBError(f"unknown question set(s) {', '.join(unknown)}; known: {sorted(sets)}")
        return [sets[name] for name in args.set]
    if args.golden is None and args.content is None and DEFAULT_SET in sets:
        return [sets[DEFAULT_SET]]
    golden = Path(args.golden) if args.golden else DEFAULT_GOLDEN
    same = [s for s in sets.values() if s.golden.resolve() == golden.resolve()]
    bounds = same[0] if same else default
    content = Path(args.content) if args.content else None
    return [EvalSet("", content, golden, bounds.minimum, bounds.maximum)]


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


def _run_one(
    args: argparse.Namespace, settings: Settings, chosen: EvalSet, single: bool
) -> tuple[EvalReport, dict[str, Any]]:
    if chosen.content is not None:
        settings = settings.model_copy(update={"content_dir": chosen.content})
    report = evaluate(settings, chosen.golden, Path(args.data) if args.data else None)
    failed = failures(report.metrics, chosen.minimum, chosen.maximum)
    body: dict[str, Any] = {**report.to_json(), "passed": not failed, "failures": failed}
    if single and args.save:
        save_results(report, Path(args.save))
    if single and args.diff:
        body["changes"] = diff_results(_base_results(args.diff, settings, chosen.golden), report)
    return report, body


def _print(name: str, report: EvalReport, body: dict[str, Any], chosen: EvalSet) -> None:
    if name:
        index = report.index
        print(
            f"== {name}: {index.get('files', 0)} files ({index.get('docs_format', '')}), "
            f"{index.get('articles', 0)} articles, {index.get('skipped', 0)} skipped, "
            f"{index.get('chunks', 0)} chunks, indexed in {index.get('seconds', 0)} s"
        )
    floor = report.index.get("refusal_floor")
    if floor is not None:
        print(f"refusal floor (calibrated at build): {floor:.3f}")
    print(table(report.metrics, chosen.minimum, chosen.maximum))
    counts = report.counts
    print(
        f"\n{counts['questions']} questions ({counts['answerable']} answerable, "
        f"{counts['unanswerable']} unanswerable, {counts['follow_ups']} follow-ups)"
    )
    if "changes" in body:
        print(f"\n{len(body['changes'])} questions changed:")
        for change in body["changes"]:
            print(f"  {change['id']}: {change['question']}\n      {change['change']}")
    print("\nFAILED: " + "; ".join(body["failures"]) if body["failures"] else "\nthresholds met")


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    chosen = chosen_sets(args)
    single = len(chosen) == 1
    if not single and (args.save or args.diff):
        raise KBError("--save and --diff take one question set at a time")
    bodies: dict[str, dict[str, Any]] = {}
    for item in chosen:
        report, body = _run_one(args, settings, item, single)
        bodies[item.name or "adhoc"] = body
        if not args.json:
            _print(item.name if not single else "", report, body, item)
            if not single:
                print()
    passed = all(body["passed"] for body in bodies.values())
    if args.json:
        out = next(iter(bodies.values())) if single else {"sets": bodies, "passed": passed}
        sys.stdout.write(json.dumps(out) + "\n")
    return 0 if passed else 1
