"""Is the question answered by what retrieval found? If not, the answer is a refusal.

Two signals, calibrated on the golden set's answerable and unanswerable questions
(`kb eval --calibrate` prints the sweep; see README "Refusals"):

- the best section's dense cosine similarity to the query must reach ``min_dense``;
- the question must not hinge on a specific thing the found sections never mention: a
  name, version or number ("Gemini 1.5 Pro", "GPT-5", "A100", "10,000 examples") or a unit
  of quantity ("per million tokens", "hourly");
- a question about a price must find one: if it asks what something costs, charges or is
  priced at, the found sections must state an amount of money.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from kbcore.answering.models import Refusal, RefusalCode
from kbcore.answering.sources import Source
from kbcore.answering.vocabulary import words_of

MIN_DENSE = 0.20
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+\-]*[A-Za-z0-9+]|[A-Za-z0-9]")
_UNITS = frozenset(
    {
        "million",
        "millions",
        "billion",
        "billions",
        "thousand",
        "thousands",
        "hourly",
        "daily",
        "weekly",
        "monthly",
        "yearly",
        "annually",
        "annual",
        "percent",
        "percentage",
        "qps",
        "rps",
        "latency",
        "ms",
        "milliseconds",
        "gb",
        "tb",
        "mb",
        "usd",
        "eur",
        "dollars",
    }
)
_PRICE_WORDS = frozenset(
    {
        "price",
        "prices",
        "pricing",
        "priced",
        "charge",
        "charges",
        "charged",
        "fee",
        "fees",
        "bill",
        "billed",
        "billing",
    }
)
_MONEY = re.compile(r"[$€£]\s?\d|\b\d[\d,.]*\s?(?:usd|eur|dollars?)\b", re.IGNORECASE)
_GENERIC = frozenset(
    {
        "llm",
        "llms",
        "ai",
        "api",
        "apis",
        "model",
        "models",
        "gpt",
        "chatgpt",
        "ok",
        "pls",
        "vs",
        "eg",
        "ie",
        "etc",
        "faq",
        "i",
        "im",
        "id",
        "ive",
        "u",
        "ur",
        "q",
        "a",
    }
)


@dataclass(frozen=True)
class Support:
    """Whether to answer, and why not."""

    grounded: bool
    top_dense: float
    unsupported: list[str] = field(default_factory=list)
    refusal: Refusal | None = None


def specific_terms(question: str) -> list[str]:
    """Names, versions, numbers and acronyms a question turns on."""
    out = []
    tokens = list(_TOKEN.finditer(question))
    for position, match in enumerate(tokens):
        token = match.group(0)
        lower = token.lower()
        if lower in _GENERIC:
            continue
        has_digit = any(c.isdigit() for c in token)
        starts_sentence = position == 0 or question[: match.start()].rstrip().endswith(
            (".", "?", "!", ":")
        )
        capitalised = token[0].isupper() and not starts_sentence
        acronym = len(token) >= 2 and token.isupper()
        if has_digit or capitalised or acronym or lower in _UNITS:
            out.append(token)
    return out


def unsupported_terms(question: str, sources: Sequence[Source]) -> list[str]:
    """Specific terms of the question that the found sections never mention."""
    texts = [f"{source.hit.heading_path}\n{source.text()}" for source in sources]
    found: set[str] = set()
    for text in texts:
        found.update(words_of(text))
    missing = []
    for term in sorted(set(specific_terms(question))):
        lower = term.lower().strip(".")
        if lower.endswith("'s"):
            lower = lower[:-2]
        if lower not in found and lower.replace("-", "") not in found:
            missing.append(term)
    words = set(words_of(question))
    if words & _PRICE_WORDS and not any(_MONEY.search(text) for text in texts):
        missing.append("a price")
    return missing


def assess(question: str, sources: Sequence[Source], min_dense: float = MIN_DENSE) -> Support:
    """Decide whether the sources can ground an answer to ``question``."""
    if not sources:
        return Support(
            False, 0.0, refusal=Refusal(RefusalCode.NO_SOURCES, "nothing relevant was found")
        )
    top_dense = max((s.hit.dense_score or 0.0) for s in sources[:3])
    if top_dense < min_dense:
        detail = (
            f"the closest section scores {top_dense:.2f}, below this index's floor of "
            f"{min_dense:.2f}"
        )
        refusal = Refusal(RefusalCode.LOW_SIMILARITY, detail, top_dense, min_dense)
        return Support(False, top_dense, refusal=refusal)
    missing = unsupported_terms(question, sources[:3])
    if missing:
        detail = (
            "the question turns on "
            + ", ".join(f"'{m}'" for m in missing)
            + (", which the closest sections never mention")
        )
        refusal = Refusal(
            RefusalCode.UNSUPPORTED_TERM, detail, top_dense, min_dense, tuple(missing)
        )
        return Support(False, top_dense, missing, refusal=refusal)
    return Support(True, top_dense)
