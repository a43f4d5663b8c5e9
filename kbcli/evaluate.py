"""`kb eval`: index the content, ask every golden question through the chat pipeline, and
score retrieval, answers, refusals and latency against thresholds.

Follow-up questions are asked with their conversation (the first question and the
answer this run gave to it), exactly as the widget sends them to `POST /v1/chat`.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.articles import Article, load_content
from ingest.report import IngestReport
from ingest.runner import content_source, ingest
from kbcore.answering.answerability import AnswerabilityGate, shipped_gate
from kbcore.answering.citations import answer_is_its_quotes
from kbcore.answering.engine import ChatEngine, build_chat_engine
from kbcore.answering.models import Turn
from kbcore.answering.ranker import LinearRanker, shipped_ranker
from kbcore.answering.reading import prose_of, read_first
from kbcore.answering.scoring import SentenceScorer
from kbcore.embedding.base import Embedder
from kbcore.errors import ContentError
from kbcore.metrics import ndcg_at
from kbcore.runtime import Runtime
from kbcore.settings import Settings

METRICS = (
    "hit_at_1", "hit_at_3", "hit_at_5", "mrr", "ndcg_at_10",
    "section_hit_at_1", "section_hit_at_3", "section_hit_at_5", "section_mrr",
    "section_ndcg_at_10",
    "lead_at_300", "answer_chars_median",
    "answer_in_context", "facts_with_evidence", "article_cited", "citation_validity",
    "citation_precision",
    "answer_equals_quotes",
    "refusal_accuracy", "near_miss_refusal", "false_refusal_rate",
    "latency_p50_ms", "latency_p95_ms",
)  # fmt: skip
LEAD_CHARS = 300  # what a reader sees first: lead@300 asks for every fact in it


@dataclass
class QuestionResult:
    """What one golden question got."""

    id: str
    question: str
    answerable: bool
    grounded: bool
    answer: str
    citations: list[str]  # "article#anchor"
    facts_found: int
    facts_total: int
    facts_shown: int  # facts in the answer or in the evidence quotes shown after it
    facts_lead: int  # facts within the first LEAD_CHARS characters a reader sees
    chars: int  # the answer's prose as it reads (markers, fences and code left out)
    article_ranking: list[str]
    section_ranking: list[str]
    valid_citations: int
    expected_citations: int
    latency_ms: float
    reason: str = ""
    reason_detail: str = ""
    verbatim: bool | None = None  # extractive answers: the text is exactly its quotes
    kind: str = ""  # unanswerable questions: "near_miss" or "off_topic"


@dataclass
class EvalReport:
    metrics: dict[str, float]
    questions: list[QuestionResult] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    index: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **{k: round(v, 4) for k, v in self.metrics.items()},
            "counts": self.counts,
            "index": self.index,
        }


def load_golden(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ContentError(path, "golden question file not found")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def resolve_targets(golden: list[dict[str, Any]], articles: list[Article]) -> None:
    """Questions written against files (``path`` + ``heading``, as for a real docs tree)
    get the ``article`` slug and section ``anchor`` the index gives them."""
    by_path = {a.rel: a for a in articles}
    for q in golden:
        if "article" in q and "anchor" in q:
            continue
        article = by_path.get(str(q.get("path") or ""))
        q["article"] = article.slug if article is not None else ""
        heading = q.get("heading")
        q["anchor"] = ""
        if article is not None and heading:
            q["anchor"] = next(
                (s.anchor for s in article.sections if _norm(s.heading) == _norm(heading)), ""
            )


def index_summary(report: IngestReport) -> dict[str, Any]:
    """What indexing the tree found, for the eval report."""
    return {
        "refusal_floor": report.refusal_floor,
        "docs_format": report.docs_format,
        "files": report.files,
        "articles": report.articles,
        "skipped": len(report.skipped),
        "warnings": len(report.warnings),
        "chunks": report.chunks,
        "seconds": round(report.seconds, 2),
    }


def _rank(items: list[str], target: str) -> int | None:
    return items.index(target) + 1 if target in items else None


async def _ask_all(
    engine: ChatEngine,
    golden: list[dict[str, Any]],
    sections: dict[tuple[str, str], str],
) -> list[QuestionResult]:
    by_id = {q["id"]: q for q in golden}
    answers: dict[str, str] = {}
    results = []
    retriever = engine.retriever
    for q in golden:
        history: list[Turn] = []
        if q.get("follow_up_of"):
            first = by_id[q["follow_up_of"]]
            if first["id"] not in answers:
                answers[first["id"]] = (await engine.aanswer(first["question"])).answer
            history = [
                Turn("user", first["question"]),
                Turn("assistant", answers[first["id"]]),
            ]
        started = time.perf_counter()
        answer = await engine.aanswer(q["question"], history)
        latency = (time.perf_counter() - started) * 1000
        answers[q["id"]] = answer.answer
        # Retrieval is measured on the standalone query the chat used, ten sections deep.
        hits = await asyncio.to_thread(retriever.search, answer.query or q["question"], 10)
        article_ranking: list[str] = []
        for hit in hits.hits:
            if hit.article not in article_ranking:
                article_ranking.append(hit.article)
        text = answer.answer.lower()
        facts = [f for f in q.get("facts", []) if f.lower() in text]
        shown = " ".join([text, *(c.quote.lower() for c in answer.citations if not c.in_answer)])
        facts_shown = [f for f in q.get("facts", []) if f.lower() in shown]
        in_answer = [c for c in answer.citations if c.in_answer]
        lead = read_first(answer.answer, LEAD_CHARS).lower()
        lead_facts = [f for f in q.get("facts", []) if _norm(f) in lead]
        valid = sum(
            1
            for c in answer.citations
            if c.quote and c.quote in sections.get((c.article, c.anchor), "")
        )
        results.append(
            QuestionResult(
                id=q["id"],
                question=q["question"],
                answerable=bool(q["answerable"]),
                grounded=answer.grounded,
                answer=answer.answer,
                citations=[f"{c.article}#{c.anchor}" for c in answer.citations],
                facts_found=len(facts),
                facts_shown=len(facts_shown),
                facts_total=len(q.get("facts", [])),
                facts_lead=len(lead_facts),
                chars=len(prose_of(answer.answer)) if answer.grounded else 0,
                article_ranking=article_ranking,
                section_ranking=[f"{h.article}#{h.anchor}" for h in hits.hits],
                valid_citations=valid,
                expected_citations=sum(c.article == q.get("article") for c in in_answer),
                latency_ms=latency,
                reason=answer.reason,
                reason_detail=answer.refusal.detail if answer.refusal is not None else "",
                verbatim=(
                    answer_is_its_quotes(answer.answer, in_answer)
                    if answer.grounded and answer.answerer in ("extractive", "faq")
                    else None
                ),
                kind=str(q.get("kind") or ""),
            )
        )
    return results


def score(golden: list[dict[str, Any]], results: list[QuestionResult]) -> EvalReport:
    by_id = {q["id"]: q for q in golden}
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    metrics: dict[str, float] = {}
    for level, key in (("", "article"), ("section_", "section")):
        ranks = []
        ndcgs = []
        for r in answerable:
            q = by_id[r.id]
            target = q["article"] if key == "article" else f"{q['article']}#{q['anchor']}"
            ranking = r.article_ranking if key == "article" else r.section_ranking
            ranks.append(_rank(ranking, target))
            ndcgs.append(ndcg_at(ranking, {target}, 10))
        n = max(len(ranks), 1)
        for k in (1, 3, 5):
            metrics[f"{level}hit_at_{k}"] = sum(1 for x in ranks if x is not None and x <= k) / n
        metrics[f"{level}mrr"] = sum(1 / x for x in ranks if x is not None) / n
        metrics[f"{level}ndcg_at_10"] = sum(ndcgs) / n
    facts_total = sum(r.facts_total for r in answerable) or 1
    metrics["answer_in_context"] = sum(r.facts_found for r in answerable) / facts_total
    metrics["facts_with_evidence"] = sum(r.facts_shown for r in answerable) / facts_total
    with_facts = [r for r in answerable if r.facts_total]
    metrics["lead_at_300"] = (
        sum(r.grounded and r.facts_lead == r.facts_total for r in with_facts) / len(with_facts)
        if with_facts
        else 0.0
    )
    lengths = [r.chars for r in results if r.grounded]
    metrics["answer_chars_median"] = statistics.median(lengths) if lengths else 0.0
    citations = sum(len(r.citations) for r in results)
    metrics["citation_validity"] = (
        sum(r.valid_citations for r in results) / citations if citations else 1.0
    )
    metrics["article_cited"] = (
        sum(1 for r in answerable if r.expected_citations) / len(answerable) if answerable else 0.0
    )
    checked = [r.verbatim for r in results if r.verbatim is not None]
    metrics["answer_equals_quotes"] = sum(checked) / len(checked) if checked else 1.0
    answered_citations = sum(len(r.citations) for r in answerable)
    metrics["citation_precision"] = (
        sum(r.expected_citations for r in answerable) / answered_citations
        if answered_citations
        else 0.0
    )
    metrics["refusal_accuracy"] = (
        sum(not r.grounded for r in unanswerable) / len(unanswerable) if unanswerable else 1.0
    )
    near_misses = [r for r in unanswerable if r.kind == "near_miss"]
    metrics["near_miss_refusal"] = (
        sum(not r.grounded for r in near_misses) / len(near_misses) if near_misses else 1.0
    )
    metrics["false_refusal_rate"] = (
        sum(not r.grounded for r in answerable) / len(answerable) if answerable else 0.0
    )
    latencies = sorted(r.latency_ms for r in results)
    metrics["latency_p50_ms"] = statistics.median(latencies) if latencies else 0.0
    metrics["latency_p95_ms"] = (
        latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))] if latencies else 0.0
    )
    counts = {
        "questions": len(results),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "follow_ups": sum(1 for q in golden if q.get("follow_up_of")),
    }
    return EvalReport(metrics=metrics, questions=results, counts=counts)


@dataclass
class IndexedSet:
    """A question set over its indexed docs tree, ready to be asked."""

    runtime: Runtime
    settings: Settings
    golden: list[dict[str, Any]]
    sections: dict[tuple[str, str], str]
    index: dict[str, Any]

    def engine(
        self, ranker: LinearRanker | None = None, gate: AnswerabilityGate | None = None
    ) -> ChatEngine:
        """The chat pipeline over this index (with ``ranker`` and ``gate`` instead of the
        shipped ones, when given)."""
        if ranker is None and gate is None:
            return build_chat_engine(self.runtime.retriever, self.settings)
        retriever = self.runtime.retriever
        return ChatEngine(
            retriever=retriever,
            scorer=SentenceScorer(
                retriever.embedder, retriever.encoder, ranker=ranker or shipped_ranker()
            ),
            gate=gate or shipped_gate(),
        )


@contextmanager
def indexed_set(
    settings: Settings,
    golden_path: Path,
    data_dir: Path | None = None,
    embedder: Embedder | None = None,
) -> Iterator[IndexedSet]:
    """Index ``settings.content_dir`` into ``data_dir`` (a temporary folder unless given)
    with the embedded store, and resolve the questions' targets against it."""
    golden = load_golden(golden_path)
    with tempfile.TemporaryDirectory(prefix="kb-eval-") as scratch:
        folder = data_dir if data_dir is not None else Path(scratch)
        runtime = Runtime.open(settings.model_copy(update={"data_dir": folder}), embedder=embedder)
        try:
            indexed = ingest(runtime, validators=())
            articles = load_content(content_source(settings)).articles
            resolve_targets(golden, articles)
            sections = {(a.slug, s.anchor): s.text for a in articles for s in a.sections}
            yield IndexedSet(runtime, settings, golden, sections, index_summary(indexed))
        finally:
            runtime.close()


def ask_set(
    indexed: IndexedSet,
    ranker: LinearRanker | None = None,
    gate: AnswerabilityGate | None = None,
) -> EvalReport:
    """Ask every question of an indexed set and score the answers."""
    engine = indexed.engine(ranker, gate)
    results = asyncio.run(_ask_all(engine, indexed.golden, indexed.sections))
    report = score(indexed.golden, results)
    report.index = indexed.index
    return report


def evaluate(settings: Settings, golden_path: Path, data_dir: Path | None = None) -> EvalReport:
    """Index ``settings.content_dir`` into ``data_dir`` (a temporary folder unless given)
    with the embedded store, and score it."""
    with indexed_set(settings, golden_path, data_dir) as indexed:
        return ask_set(indexed)


def load_thresholds(path: Path) -> tuple[dict[str, float], dict[str, float]]:
    """``[min]`` and ``[max]`` tables of the thresholds file."""
    if not path.is_file():
        return {}, {}
    data = tomllib.loads(path.read_text())
    return (
        {k: float(v) for k, v in data.get("min", {}).items()},
        {k: float(v) for k, v in data.get("max", {}).items()},
    )


def failures(
    metrics: dict[str, float], minimum: dict[str, float], maximum: dict[str, float]
) -> list[str]:
    out = []
    for name, bound in minimum.items():
        if metrics.get(name, float("-inf")) < bound:
            out.append(f"{name} = {metrics.get(name, float('nan')):.3f} is below {bound}")
    for name, bound in maximum.items():
        if metrics.get(name, float("inf")) > bound:
            out.append(f"{name} = {metrics.get(name, float('nan')):.3f} is above {bound}")
    return out


def table(metrics: dict[str, float], minimum: dict[str, float], maximum: dict[str, float]) -> str:
    lines = [f"{'metric':<22}{'value':>10}  {'target':<10}"]
    for name in METRICS:
        value = metrics[name]
        target = ""
        status = ""
        if name in minimum:
            target = f">= {minimum[name]:g}"
            status = "ok" if value >= minimum[name] else "FAIL"
        elif name in maximum:
            target = f"<= {maximum[name]:g}"
            status = "ok" if value <= maximum[name] else "FAIL"
        shown = f"{value:.1f}" if name.endswith(("_ms", "_median")) else f"{value:.3f}"
        lines.append(f"{name:<22}{shown:>10}  {target:<10}{status}")
    return "\n".join(lines)


def save_results(report: EvalReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {"metrics": report.metrics, "questions": [asdict(q) for q in report.questions]},
            indent=1,
        )
    )


def diff_results(base: dict[str, Any], current: EvalReport) -> list[dict[str, Any]]:
    """Questions whose answer, grounding or citations differ from ``base``."""
    before = {q["id"]: q for q in base.get("questions", [])}
    changes = []
    for q in current.questions:
        old = before.get(q.id)
        if old is None:
            changes.append({"id": q.id, "question": q.question, "change": "new question"})
            continue
        what = []
        if old["grounded"] != q.grounded:
            what.append("now answered" if q.grounded else "now refused")
        if old["citations"] != q.citations:
            what.append(f"citations {old['citations']} -> {q.citations}")
        if old["answer"] != q.answer:
            what.append("answer text changed")
        if what:
            changes.append({"id": q.id, "question": q.question, "change": "; ".join(what)})
    return changes
