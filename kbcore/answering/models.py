"""What an answer is made of: turns, citations, suggestions and the answer itself."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

_WORD = re.compile(r"\w+")


def _words(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


@dataclass(frozen=True)
class Turn:
    """One earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Citation:
    """A verbatim quote from an article section, referenced as ``[id]`` in the answer."""

    id: int
    article: str
    title: str
    heading: str
    anchor: str
    url: str
    path: str
    quote: str
    score: float
    # False for evidence: a quote shown with the answer (a closely related section's best
    # sentence) that the answer text does not repeat and no marker points to.
    in_answer: bool = True

    @property
    def label(self) -> str:
        """How a list of sources names it: ``Title > Heading``, or just the title for an
        article's opening section and for a heading that repeats the title."""
        if _words(self.heading) in ("", _words(self.title)):
            return self.title
        return f"{self.title} > {self.heading}"

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "article": self.article,
            "title": self.title,
            "heading": self.heading,
            "anchor": self.anchor,
            "url": self.url,
            "path": self.path,
            "quote": self.quote,
            "score": round(self.score, 6),
            "in_answer": self.in_answer,
        }


@dataclass(frozen=True)
class Suggestion:
    """An article worth reading when the question could not be answered."""

    article: str
    title: str
    url: str
    path: str = ""

    def to_json(self) -> dict[str, str]:
        return {"article": self.article, "title": self.title, "url": self.url, "path": self.path}


class RefusalCode(StrEnum):
    """Why an answer is a refusal (machine-readable, in the API response and logs)."""

    NO_SOURCES = "no_sources"  # retrieval found nothing
    LOW_SIMILARITY = "low_similarity"  # the best section is below the index's floor
    UNSUPPORTED_TERM = "unsupported_term"  # the question turns on a term no section has
    MISSING_VALUE = "missing_value"  # it asks for a limit or a date no section states
    UNVERIFIED = "unverified"  # no claim of the draft could be verified against a source
    NOT_COVERED = "not_covered"  # the closest sections do not say what the question asks


@dataclass(frozen=True)
class Refusal:
    """Why the knowledge base did not answer, with the numbers that decided it."""

    code: RefusalCode
    detail: str
    score: float | None = None
    floor: float | None = None
    terms: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code.value,
            "detail": self.detail,
            "score": None if self.score is None else round(self.score, 4),
            "floor": None if self.floor is None else round(self.floor, 4),
            "terms": list(self.terms),
        }


@dataclass(frozen=True)
class Verification:
    """What claim verification did to a language model's answer."""

    claims: int
    kept: int
    removed: int
    fallback: bool = False
    model_error: str | None = None  # the model failed (timeout, outage): why

    def to_json(self) -> dict[str, object]:
        return {
            "claims": self.claims,
            "kept": self.kept,
            "removed": self.removed,
            "fallback": self.fallback,
            "model_error": self.model_error,
        }


@dataclass
class TokenUsage:
    """Tokens a language model reported for one answer (None: the server did not say)."""

    prompt: int | None = None
    completion: int | None = None

    def to_json(self) -> dict[str, object]:
        return {"prompt_tokens": self.prompt, "completion_tokens": self.completion}


@dataclass
class Answer:
    """A verified answer (or an honest refusal) and what produced it."""

    answer: str
    citations: list[Citation]
    grounded: bool
    suggestions: list[Suggestion]
    index_version: str
    query: str = ""  # the standalone query retrieval used
    answerer: str = "extractive"
    refusal: Refusal | None = None
    verification: Verification | None = None
    usage: TokenUsage | None = None  # the language model's, when one answered

    @property
    def reason(self) -> str:
        """The refusal code, or "" for an answer."""
        return self.refusal.code.value if self.refusal is not None else ""

    def to_json(self, conversation_id: str) -> dict[str, object]:
        return {
            "answer": self.answer,
            "citations": [c.to_json() for c in self.citations],
            "grounded": self.grounded,
            "suggestions": [s.to_json() for s in self.suggestions],
            "conversation_id": conversation_id,
            "index_version": self.index_version,
            "refusal": self.refusal.to_json() if self.refusal is not None else None,
            "verification": None if self.verification is None else self.verification.to_json(),
            "usage": None if self.usage is None else self.usage.to_json(),
        }
