"""`kb eval --claims`: precision and recall of claim verification on labelled claims.

Each line of ``eval/claims/claims.jsonl`` is a source passage copied from a docs tree, a
sentence a model might write citing it, and whether the passage supports it (with the
kind of error for unsupported ones: altered number, wrong identifier, negation, a fact
merged in from another section, a plausible invention). The meaning thresholds of
``kbcore/answering/claims.py`` are validated leave-one-corpus-out: for each corpus they
are fitted on the other corpora and scored on the held-out one. ``--fit`` fits them on
all corpora and writes ``kbcore/assets/claims.json``.

Precision: of the claims kept, the share that are supported. Recall: of the supported
claims, the share kept. The thresholds are those with the best F0.5 on the fitting folds
(precision counted four times as much as recall: a claim wrongly kept misleads a visitor,
a supported one removed only leaves the answer to the extractive answerer).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbcore.answering.claims import (
    ASSET,
    ClaimVerifier,
    Features,
    SourceText,
    Thresholds,
    clean_claim,
)
from kbcore.settings import Settings

CLAIMS = Path("eval/claims/claims.jsonl")


@dataclass(frozen=True)
class Row:
    corpus: str
    kind: str
    supported: bool
    features: Features


def load(path: Path, verifier: ClaimVerifier) -> list[Row]:
    """Every labelled claim with its features against its source."""
    from ingest.sentences import SentenceSplitter

    splitter = SentenceSplitter()
    rows = []
    shares: dict[str, Callable[[str], float]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item: dict[str, Any] = json.loads(line)
        text = str(item["source"])
        sentences = [text[a:b] for a, b in splitter.spans(text)]
        corpus = str(item["corpus"])
        if corpus not in shares:
            shares[corpus] = word_shares(CORPUS_ROOTS.get(corpus, Path("eval/corpora") / corpus))
        source = SourceText(sentences, text=text, known=shares[corpus])
        claim = clean_claim(str(item["claim"]))
        vector = verifier.vectors([claim])[0]
        rows.append(
            Row(
                str(item["corpus"]),
                str(item["kind"]),
                item["label"] == "supported",
                verifier.features(claim, vector, source),
            )
        )
    return rows


CORPUS_ROOTS = {"ours": Path("content")} | {
    name: Path("eval/corpora") / f"{name}-docs"
    for name in ("pydantic", "prettier", "vite", "starlight", "mystmd", "jekyll", "mintlify")
}


def word_shares(root: Path) -> Callable[[str], float]:
    """The share of a docs tree's pages that use each word (what the index's vocabulary
    tells at run time, by chunk)."""
    from collections import Counter

    from kbcore.answering.vocabulary import words_of

    pages = [p for p in root.rglob("*") if p.suffix in (".md", ".mdx") and p.is_file()]
    counts: Counter[str] = Counter()
    for page in pages:
        counts.update(set(words_of(page.read_text(encoding="utf-8", errors="replace"))))
    total = max(1, len(pages))
    return lambda word: counts.get(word, 0) / total


COSINES = [round(0.3 + 0.025 * i, 3) for i in range(27)]  # 0.30 .. 0.95
COVERAGES = [round(0.1 * i, 1) for i in range(11)]  # 0.0 .. 1.0


def fit(rows: Sequence[Row]) -> Thresholds:
    """The thresholds with the best F0.5 on ``rows`` (vetoes included)."""
    grid = [Thresholds(c, w) for c in COSINES for w in COVERAGES]
    return max(grid, key=lambda t: (_f_beta(*_score(rows, t)), t.cosine, t.window_coverage))


def _f_beta(precision: float, recall: float, beta: float = 0.5) -> float:
    """Precision weighted over recall (beta 0.5): a wrongly kept claim costs more than a
    supported one left to the extractive answer."""
    if precision + recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def kept(thresholds: Thresholds, row: Row) -> bool:
    return not row.features.veto and thresholds.supports(row.features)


def _score(rows: Sequence[Row], thresholds: Thresholds) -> tuple[float, float]:
    keep = [kept(thresholds, r) for r in rows]
    true_kept = sum(k and r.supported for k, r in zip(keep, rows, strict=True))
    precision = true_kept / sum(keep) if any(keep) else 1.0
    supported = sum(r.supported for r in rows)
    return precision, (true_kept / supported if supported else 1.0)


def run_claims_eval(settings: Settings, *, fit_weights: bool, as_json: bool) -> int:
    """Print held-out precision and recall per corpus (and fit, with ``fit_weights``)."""
    from kbcore.embedding.factory import build_embedder
    from kbcore.sparse import BM25Encoder

    embedder = build_embedder(settings)
    verifier = ClaimVerifier(BM25Encoder(), embedder.embed_documents)
    rows = load(CLAIMS, verifier)
    corpora = sorted({r.corpus for r in rows})
    report: dict[str, Any] = {"claims": len(rows), "corpora": {}, "kinds": {}}
    held_out_keep: list[bool] = []
    for corpus in corpora:
        train = [r for r in rows if r.corpus != corpus]
        test = [r for r in rows if r.corpus == corpus]
        thresholds = fit(train)
        precision, recall = _score(test, thresholds)
        held_out_keep += [kept(thresholds, r) for r in test]
        report["corpora"][corpus] = {
            "claims": len(test),
            "precision": round(precision, 3),
            "recall": round(recall, 3),
            "thresholds": thresholds.__dict__,
        }
    ordered = [r for corpus in corpora for r in rows if r.corpus == corpus]
    true_kept = sum(k and r.supported for k, r in zip(held_out_keep, ordered, strict=True))
    report["held_out"] = {
        "precision": round(true_kept / max(1, sum(held_out_keep)), 3),
        "recall": round(true_kept / max(1, sum(r.supported for r in ordered)), 3),
    }
    for kind in sorted({r.kind for r in rows}):
        picks = [k for k, r in zip(held_out_keep, ordered, strict=True) if r.kind == kind]
        report["kinds"][kind] = {"claims": len(picks), "kept": sum(picks)}
    if fit_weights:
        thresholds = fit(rows)
        ASSET.write_text(
            json.dumps({"thresholds": thresholds.__dict__, "fitted_on": report["claims"]}) + "\n",
            encoding="utf-8",
        )
        report["fitted"] = thresholds.__dict__
    if as_json:
        print(json.dumps(report))
        return 0
    print(f"{report['claims']} labelled claims, leave-one-corpus-out")
    print("corpus      claims  precision  recall  cosine>=  coverage>=")
    for corpus, r in report["corpora"].items():
        t = r["thresholds"]
        print(
            f"{corpus:<11} {r['claims']:>6}  {r['precision']:>9.3f}  {r['recall']:>6.3f}  "
            f"{t['cosine']:>8.3f}  {t['window_coverage']:>10.1f}"
        )
    print(
        f"all held out       {report['held_out']['precision']:>9.3f}  "
        f"{report['held_out']['recall']:>6.3f}"
    )
    print(
        "kept by kind (held out): "
        + ", ".join(f"{k} {v['kept']}/{v['claims']}" for k, v in report["kinds"].items())
    )
    return 0
