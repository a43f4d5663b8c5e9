"""Is the question answered by what retrieval found? If not, the answer is a refusal, and
the refusal says why (a ``RefusalCode`` with the numbers that decided it).

- ``low_similarity``: the best section's dense similarity to the question is below the
  index version's own floor, calibrated when it was built (``ingest.calibrate``);
- ``unsupported_term``: the question turns on a specific thing that the closest sections
  never mention and the knowledge base rarely or never uses: a name, version, model or
  identifier ("Gemini 1.5 Pro", "GPT-5", "A100", "--max-workers", "orm_mode"), a year or
  large number, or a unit of quantity ("per million tokens", "hourly"). What a term is
  comes from the corpus, not a fixed list: a word the knowledge base uses in more than
  ``COMMON_SHARE`` of its chunks is ordinary there ("JSON" in API docs, "V2" in a
  migration guide), single letters, small numbers and common acronyms never name
  anything, and a name offered as an alternative to one the sections do mention ("with
  o1 or DeepSeek R1") is not what the question turns on;
- a question about a price must find one: if it asks what something costs, the closest
  sections must state an amount of money;
- ``missing_value``: a question asking for a limit ("what's the maximum ...", "the
  minimum version ...") or a date ("when is V3 released?") needs a sentence that states
  one: a number beside a limit word (or a date) and one of the question's distinctive
  words. Near misses ask exactly these, and the closest sections then talk about the
  thing without ever stating its limit.

A question just under the floor is still answered when the best section holds all of its
distinctive words ("whats hnsw": two words embed poorly, but the section is about HNSW).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from kbcore.answering.models import Refusal, RefusalCode
from kbcore.answering.signals import MONEY
from kbcore.answering.sources import Source
from kbcore.answering.vocabulary import Vocabulary, words_of
from kbcore.sparse import BM25Encoder

PRICE = "a price"  # the unsupported "term" of a question asking a price no section states
MIN_DENSE = 0.20  # used only for an index built before calibration existed
COMMON_SHARE = 0.02
DISTINCTIVE_SHARE = 0.1  # a word in fewer of the chunks than this says what a question is about
SUPPORT_SOURCES = 3
RESCUE_MARGIN = 0.08  # how far under the floor a fully covered question may score
_LIMIT_QUESTION = re.compile(
    r"^\W*(?:what|what's|whats|which|how)\b.*\b(?:max|maximum|min|minimum|largest|smallest|"
    r"biggest|highest|lowest|limit)\b",
    re.I,
)
_SHORTCUT_QUESTION = re.compile(r"\b(?:shortcut|hotkey|key ?binding|key combination)s?\b", re.I)
_KEYS = re.compile(r"\b(?:ctrl|cmd|command|alt|opt|option|shift|meta|super)\s*\+", re.I)
_WHEN_QUESTION = re.compile(r"^\W*when(?:\s+\w+ly)?\s+(?:is|are|was|were|will|did|does)\b", re.I)
_LIMIT_WORDS = re.compile(
    r"\b(?:max|maximum|min|minimum|largest|smallest|highest|lowest|limit|limits|limited|"
    r"at most|at least|up to|no more than|capped|exceeds?|or (?:more|less|later|newer|higher|"
    r"above|below))\b",
    re.I,
)
_DATE = re.compile(r"\b(?:19|20)\d\d\b|\bv?\d+\.\d+")
_QUESTION_WORDS = frozenset(
    [
        "what",
        "whats",
        "which",
        "how",
        "when",
        "max",
        "maximum",
        "min",
        "minimum",
        "largest",
        "smallest",
        "biggest",
        "highest",
        "lowest",
        "limit",
        "value",
        "number",
        "exact",
        "exactly",
    ]
)
# What separates alternatives: "/", or "or" and up to two words ("o1 or DeepSeek R1").
_ALTERNATIVE = re.compile(r"\s*/\s*|,?\s+or\s+(?:[\w'-]+\s+){0,2}", re.I)
_TOKEN = re.compile(r"-{0,2}[A-Za-z0-9_][A-Za-z0-9_.+\-]*[A-Za-z0-9_+]|[A-Za-z0-9]")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_CAMEL = re.compile(r"[a-z][A-Z]")
_UNITS = frozenset(
    {
        "million",
        "millions",
        "billion",
        "billions",
        "hourly",
        "daily",
        "weekly",
        "monthly",
        "yearly",
        "annually",
        "percent",
        "percentage",
        "qps",
        "rps",
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
        "cost",
        "costs",
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
_AMOUNT_QUESTION = re.compile(
    r"\bhow much\b|^\W*what\b|\bper (?:hour|month|year|seat|user)\b", re.I
)
_SETS_BACK = re.compile(r"\bsets? (?:me|us|you) back\b", re.I)  # "what does it set me back?"
# Acronyms and words that never name a product or version on their own.
_GENERIC = frozenset(
    [
        "llm",
        "llms",
        "ai",
        "ml",
        "api",
        "apis",
        "sdk",
        "cli",
        "ui",
        "ux",
        "ide",
        "os",
        "pr",
        "prs",
        "ci",
        "cd",
        "url",
        "urls",
        "uri",
        "http",
        "https",
        "html",
        "css",
        "js",
        "ts",
        "json",
        "yaml",
        "yml",
        "xml",
        "csv",
        "sql",
        "db",
        "id",
        "ids",
        "uuid",
        "io",
        "pdf",
        "faq",
        "readme",
        "todo",
        "changelog",
        "license",
        "vs",
        "eg",
        "ie",
        "etc",
        "ok",
        "pls",
        "i",
        "im",
        "id",
        "ive",
        "u",
        "ur",
        "q",
        "a",
        "model",
        "models",
        "gpt",
        "chatgpt",
        "mac",
        "windows",
        "linux",
        "camelcase",
        "snake_case",
        "kebab-case",
        "pascalcase",
    ]
)


@dataclass(frozen=True)
class Support:
    """Whether to answer, why not, and what the rules found: specific terms the closest
    sections never mention, and a value the question asks for that none states (the
    answerability gate, ``kbcore.answering.answerability``, weighs these)."""

    grounded: bool
    top_dense: float
    unsupported: list[str] = field(default_factory=list)
    refusal: Refusal | None = None
    missing_value: str = ""


def is_identifier(token: str) -> bool:
    """A code identifier, option or flag: ``orm_mode``, ``--max-workers``, ``printWidth``."""
    return token.startswith("--") or "_" in token or bool(_CAMEL.search(token))


def _is_specific(token: str, starts_sentence: bool, unit_follows: bool) -> bool:
    lower = token.lower().strip("-")
    if lower in _GENERIC or (len(lower) < 2 and not (unit_follows and lower.isdigit())):
        return False
    if is_identifier(token):
        return True
    if token.isdigit() or re.fullmatch(r"\d+\.\d+", token):
        # Small numbers are examples ("Pydantic 2", "3.5 into an int field"); a year, a
        # large number or a quantity with its unit ("10%") is what the question asks about.
        return unit_follows or bool(_YEAR.match(token)) or len(token.replace(".", "")) >= 3
    if any(c.isdigit() for c in token):
        return True  # a version or model: GPT-5, A100, 7B, v6
    if lower in _UNITS:
        return True
    return (token[0].isupper() and not starts_sentence) or (len(token) >= 2 and token.isupper())


def specific_terms(question: str) -> list[str]:
    """Names, versions, identifiers, numbers and units a question turns on."""
    return [term for term, _, _ in _specific_spans(question)]


def _specific_spans(question: str) -> list[tuple[str, int, int]]:
    """Each specific term of ``question`` with where it starts and ends."""
    out = []
    for position, match in enumerate(_TOKEN.finditer(question)):
        token = match.group(0).rstrip(".")
        starts_sentence = position == 0 or question[: match.start()].rstrip().endswith(
            (".", "?", "!", ":")
        )
        unit_follows = question[match.end() : match.end() + 1] == "%"
        if _is_specific(token, starts_sentence, unit_follows):
            term = f"{token}%" if unit_follows else token
            out.append((term, match.start(), match.start() + len(token)))
    return out


def _forms(term: str) -> list[str]:
    lower = term.lower().strip("-.")
    if lower.endswith("'s"):
        lower = lower[:-2]
    forms = [lower, lower.replace("-", "")]
    if lower.endswith("s") and len(lower) > 3:
        forms.append(lower[:-1])  # "BaseModels" is about "basemodel"
    if "." in lower:
        forms.append(lower.rsplit(".", 1)[-1])  # "BaseModel.model_dump" names "model_dump"
    return forms


def unsupported_terms(
    question: str,
    sources: Sequence[Source],
    vocabulary: Vocabulary | None = None,
    message: str | None = None,
) -> list[str]:
    """Specific terms of the question that the found sections never mention and that
    the knowledge base does not use widely (see the module docstring)."""
    texts = [f"{source.hit.heading_path}\n{source.text()}" for source in sources]
    found: set[str] = set()
    for text in texts:
        found.update(words_of(text))
    spans = _specific_spans(question)
    missing = []
    for term in sorted({name for name, _, _ in spans}):
        if term.endswith("%"):  # a share: "10%" must be stated as one
            stated = re.compile(rf"(?<![\d.]){re.escape(term[:-1])}\s?(?:%|percent)", re.I)
            if not any(stated.search(text) for text in texts):
                missing.append(term)
            continue
        forms = _forms(term)
        if any(form in found for form in forms):
            continue
        if vocabulary is not None:
            share = max(vocabulary.word_share(form) for form in forms)
            if share >= COMMON_SHARE or (share > 0 and is_identifier(term)):
                # Ordinary in this knowledge base, or an identifier it does document
                # (retrieval ranked other sections first; that is no reason to refuse).
                continue
        missing.append(term)
    if missing:
        missing = [m for m in missing if not _alternative_found(m, question, spans, missing)]
    # A price is asked for in the visitor's own words (a follow-up's context may have
    # asked it already, and been answered).
    if asks_price(message or question) and not any(MONEY.search(t) for t in texts):
        missing.append(PRICE)
    return missing


def _alternative_found(
    term: str, question: str, spans: Sequence[tuple[str, int, int]], missing: Sequence[str]
) -> bool:
    """Whether ``term`` is one of alternatives ("with o1 or DeepSeek R1", "A100/H100")
    and the next name across the "or" is not missing: the question is answered for that
    one. Only the nearest names on either side count ("an A100 or H100 GPU" names two
    alternatives, not "GPU"). ``spans``: the question's specific terms and where they are."""
    for index, (name, _, _) in enumerate(spans):
        if name != term:
            continue
        for near in (index - 1, index + 1):
            if not 0 <= near < len(spans) or spans[near][0] in missing:
                continue
            left, right = sorted((index, near))
            between = question[spans[left][2] : spans[right][1]]
            if _ALTERNATIVE.fullmatch(between):
                return True
    return False


def asks_price(question: str) -> bool:
    """Whether the question asks for an amount of money ("how much does it cost", "what
    is the pricing"), not merely mentions cost ("does it cost more?")."""
    words = set(words_of(question))
    if words & (_PRICE_WORDS - {"cost", "costs"}) or _SETS_BACK.search(question):
        return True
    return bool(words & {"cost", "costs"}) and bool(_AMOUNT_QUESTION.search(question))


def _distinctive(question: str, vocabulary: Vocabulary | None, encoder: BM25Encoder) -> set[str]:
    """The question's stemmed terms that say what it is about (not question words, and
    not words the knowledge base uses everywhere)."""
    plain = " ".join(w for w in words_of(question) if w not in _QUESTION_WORDS)
    terms = set(encoder.terms(plain))
    if vocabulary is None:
        return terms
    return {
        t
        for t in terms
        if vocabulary.frequencies.get(t, 0) < DISTINCTIVE_SHARE * vocabulary.documents
    }


def _covered(terms: set[str], source: Source, encoder: BM25Encoder) -> bool:
    """Whether one section holds every one of ``terms``."""
    return bool(terms) and terms <= set(
        encoder.terms(f"{source.hit.heading_path}\n{source.text()}")
    )


def missing_value(
    question: str,
    sources: Sequence[Source],
    vocabulary: Vocabulary | None,
    encoder: BM25Encoder,
) -> str:
    """What the question asks for that no sentence states ("" when nothing is missing or
    the question asks for no limit or date)."""
    if _LIMIT_QUESTION.search(question):
        wanted, label = _states_limit, "a limit"
    elif _WHEN_QUESTION.search(question):
        wanted, label = _states_date, "a date"
    elif _SHORTCUT_QUESTION.search(question):
        wanted, label = _states_keys, "a keyboard shortcut"
    else:
        return ""
    # The value must come with what the question is about: one of the names it gives
    # ("JsPrettier", "printWidth"), else one of its distinctive words.
    names = [n for n in specific_terms(question) if not n.endswith("%")]
    terms = (
        set(encoder.terms(" ".join(names)))
        if names
        else _distinctive(question, vocabulary, encoder)
    )
    for source in sources:
        for sentence in source.sentences():
            text = sentence.text
            if wanted(text) and (not terms or terms & set(encoder.terms(text))):
                return ""
    return label


def _states_limit(text: str) -> bool:
    return bool(_LIMIT_WORDS.search(text)) and any(c.isdigit() for c in text)


def _states_date(text: str) -> bool:
    return bool(_DATE.search(text))


def _states_keys(text: str) -> bool:
    return bool(_KEYS.search(text))


def assess(
    question: str,
    sources: Sequence[Source],
    min_dense: float = MIN_DENSE,
    vocabulary: Vocabulary | None = None,
    message: str | None = None,
    encoder: BM25Encoder | None = None,
) -> Support:
    """Refuse at once when nothing was found or the closest section is below the floor;
    otherwise report what the rules found for the answerability gate to weigh."""
    if not sources:
        return Support(
            False, 0.0, refusal=Refusal(RefusalCode.NO_SOURCES, "nothing relevant was found")
        )
    encoder = encoder or BM25Encoder()
    top_dense = max((s.hit.dense_score or 0.0) for s in sources[:SUPPORT_SOURCES])
    rescued = top_dense >= min_dense - RESCUE_MARGIN and _covered(
        _distinctive(question, vocabulary, encoder), sources[0], encoder
    )
    if top_dense < min_dense and not rescued:
        detail = (
            f"the closest section scores {top_dense:.2f}, below this index's floor of "
            f"{min_dense:.2f}"
        )
        refusal = Refusal(RefusalCode.LOW_SIMILARITY, detail, top_dense, min_dense)
        return Support(False, top_dense, refusal=refusal)
    missing = unsupported_terms(question, sources[:SUPPORT_SOURCES], vocabulary, message)
    if PRICE in missing:
        # A price is a fact or it is not: asked for and stated nowhere close, it is refused.
        detail = "the question asks for a price, which the closest sections never state"
        refusal = Refusal(
            RefusalCode.UNSUPPORTED_TERM, detail, top_dense, min_dense, tuple(missing)
        )
        return Support(False, top_dense, missing, refusal=refusal)
    value = missing_value(message or question, sources[:SUPPORT_SOURCES], vocabulary, encoder)
    return Support(True, top_dense, missing, missing_value=value)


def refusal_for(support: Support, uncovered: Sequence[str], floor: float) -> Refusal:
    """Why the gate refused, in the rules' terms where they found something: the value
    the question asks for and no sentence states, else the terms the closest sections
    never mention, else the asking part's words none of them covers."""
    if support.missing_value:
        detail = (
            f"the question asks for {support.missing_value} that the closest sections never state"
        )
        return Refusal(RefusalCode.MISSING_VALUE, detail, support.top_dense, floor)
    if support.unsupported:
        detail = (
            "the question turns on "
            + ", ".join(f"'{m}'" for m in support.unsupported)
            + ", which the closest sections never mention"
        )
        return Refusal(
            RefusalCode.UNSUPPORTED_TERM,
            detail,
            support.top_dense,
            floor,
            tuple(support.unsupported),
        )
    what = ", ".join(f"'{t}'" for t in uncovered)
    detail = (
        f"the closest sections do not say what it asks ({what} never comes up)"
        if uncovered
        else "no sentence of the closest sections answers what it asks"
    )
    return Refusal(RefusalCode.NOT_COVERED, detail, support.top_dense, floor, tuple(uncovered))
