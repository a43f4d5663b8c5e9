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
from contextlib import ExitStack
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from kbcli.evaluate import (
    EvalReport,
    IndexedSet,
    ask_set,
    diff_results,
    evaluate,
    failures,
    indexed_set,
    save_results,
    table,
)
from kbcli.ranker_training import QuestionRows, collect, collect_gate, fit, fit_gate, top1
from kbcore.answering.answerability import GATE_PATH, AnswerabilityGate, shipped_gate
from kbcore.answering.ranker import RANKER_PATH, LinearRanker, shipped_ranker
from kbcore.embedding.factory import build_embedder
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
    loco_minimum: dict[str, float] = field(default_factory=dict)  # held out (--loco)
    loco_maximum: dict[str, float] = field(default_factory=dict)


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
            loco_minimum=_bounds(spec, "loco_min"),
            loco_maximum=_bounds(spec, "loco_max"),
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
    if getattr(args, "claims", False):
        from kbcli.claims_eval import run_claims_eval

        return run_claims_eval(settings, fit_weights=args.fit, as_json=args.json)
    chosen = chosen_sets(args)
    if args.loco or args.fit:
        return run_loco(args, settings, chosen)
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


# Metrics shown side by side, fitted on every set (in-sample) and on the others (held out).
LOCO_METRICS = (
    "lead_at_300",
    "answer_chars_median",
    "answer_in_context",
    "facts_with_evidence",
    "article_cited",
    "refusal_accuracy",
    "near_miss_refusal",
    "false_refusal_rate",
)


def _data_dir(args: argparse.Namespace, name: str) -> Path | None:
    return Path(args.data) / name if args.data else None


def run_loco(args: argparse.Namespace, settings: Settings, chosen: list[EvalSet]) -> int:
    """Fit the sentence ranker and the answerability gate on the sets, and score each set
    with them fitted on all sets (in-sample) and on the other sets only (held out: leave
    one corpus out). With ``--fit`` the ones fitted on all sets are written into
    ``kbcore/assets`` first (what the release ships)."""
    if len(chosen) < 2:
        raise KBError("--loco and --fit need two or more question sets (--all)")
    embedder = build_embedder(settings)
    with ExitStack() as stack:
        sets: dict[str, IndexedSet] = {}
        rows: dict[str, list[QuestionRows]] = {}
        for item in chosen:
            content = item.content or settings.content_dir
            local = settings.model_copy(update={"content_dir": content})
            indexed = stack.enter_context(
                indexed_set(local, item.golden, _data_dir(args, item.name), embedder)
            )
            sets[item.name] = indexed
            neutral = indexed.engine(LinearRanker.neutral(), AnswerabilityGate.open_gate())
            rows[item.name] = collect(item.name, neutral, indexed.golden)

        def fitted(names: list[str]) -> tuple[LinearRanker, AnswerabilityGate]:
            ranker = fit([q for name in names for q in rows[name]])
            opened = AnswerabilityGate.open_gate()
            gate_rows = [
                row
                for name in names
                for row in collect_gate(name, sets[name].engine(ranker, opened), sets[name].golden)
            ]
            return ranker, fit_gate(gate_rows)

        names = list(rows)
        if args.fit:
            ranker, gate = fitted(names)
            RANKER_PATH.write_text(json.dumps(ranker.to_json(), indent=1) + "\n")
            GATE_PATH.write_text(json.dumps(gate.to_json(), indent=1) + "\n")
            print(f"fitted on {sum(len(r) for r in rows.values())} questions of {len(rows)} sets")
        else:
            ranker, gate = shipped_ranker(), shipped_gate()
        bodies: dict[str, dict[str, Any]] = {}
        for item in chosen:
            held_ranker, held_gate = fitted([name for name in names if name != item.name])
            inside = ask_set(sets[item.name], ranker, gate)
            outside = ask_set(sets[item.name], held_ranker, held_gate)
            failed = failures(inside.metrics, item.minimum, item.maximum)
            failed += [
                f"held out: {f}"
                for f in failures(outside.metrics, item.loco_minimum, item.loco_maximum)
            ]
            bodies[item.name] = {
                "in_sample": {k: round(v, 4) for k, v in inside.metrics.items()},
                "held_out": {k: round(v, 4) for k, v in outside.metrics.items()},
                "ranker_top1": {
                    "in_sample": round(top1(ranker, rows[item.name]), 4),
                    "held_out": round(top1(held_ranker, rows[item.name]), 4),
                },
                "index": inside.index,
                "counts": inside.counts,
                "passed": not failed,
                "failures": failed,
            }
    passed = all(body["passed"] for body in bodies.values())
    if args.json:
        sys.stdout.write(json.dumps({"sets": bodies, "passed": passed}) + "\n")
    else:
        _print_loco(bodies)
    return 0 if passed else 1


def _print_loco(bodies: dict[str, dict[str, Any]]) -> None:
    names = list(bodies)
    header = f"{'metric':<22}" + "".join(f"{name[:18]:>20}" for name in names)
    print("in-sample / held out (ranker fitted on every set / on the other sets only)")
    print(header)
    for metric in (*LOCO_METRICS, "ranker_top1"):
        cells = []
        for name in names:
            body = bodies[name]
            if metric == "ranker_top1":
                a, b = body[metric]["in_sample"], body[metric]["held_out"]
            else:
                a, b = body["in_sample"][metric], body["held_out"][metric]
            cells.append(
                f"{a:.0f} / {b:.0f}" if metric.endswith("median") else f"{a:.3f} / {b:.3f}"
            )
        print(f"{metric:<22}" + "".join(f"{cell:>20}" for cell in cells))
    for name, body in bodies.items():
        if body["failures"]:
            print(f"FAILED {name}: " + "; ".join(body["failures"]))
    if all(body["passed"] for body in bodies.values()):
        print("thresholds met")
