"""The claim-verification gate (issue #23): `kb eval --claims` on the 393 labelled claims
of eval/claims, leave-one-corpus-out. Locks what is reached; the exact checks must catch
nine in ten changed numbers and invented names on every run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbcli.claims_eval import run_claims_eval
from tests.conftest import make_settings


def test_claim_verification_holds_its_measured_precision_and_recall(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_claims_eval(make_settings(tmp_path), fit_weights=False, as_json=True) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["claims"] >= 390 and len(report["corpora"]) == 8
    assert report["held_out"]["precision"] >= 0.73, report["held_out"]
    assert report["held_out"]["recall"] >= 0.93, report["held_out"]
    kinds = report["kinds"]
    for kind in ("altered_number", "wrong_identifier"):
        assert kinds[kind]["kept"] <= 0.1 * kinds[kind]["claims"], (kind, kinds[kind])
    assert kinds["verbatim"]["kept"] >= 0.95 * kinds["verbatim"]["claims"]
