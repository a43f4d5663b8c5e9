"""Follow-up questions -> standalone queries, so retrieval sees what the visitor means.

Deterministic by default: a message that leans on the conversation ("and how many rounds
should I plan for?", "what about Claude?", "does it cost more?") is joined to the last
question the visitor asked. With an LLM configured the engine asks the LLM instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kbcore.answering.models import Turn
from kbcore.sparse import BM25Encoder

_LEAD = re.compile(
    r"^\s*(and|but|so|also|then|ok|okay|what about|how about|what if|why not|why|how come|"
    r"same for|and for|or|instead)\b",
    re.IGNORECASE,
)
_ANAPHORA = frozenset(
    {
        "it",
        "its",
        "it's",
        "that",
        "this",
        "they",
        "them",
        "their",
        "those",
        "these",
        "there",
        "one",
        "ones",
        "such",
        "instead",
        "more",
        "else",
        "same",
    }
)
MIN_OWN_TERMS = 3


@dataclass(frozen=True)
class Rewrite:
    """The query retrieval uses, and the earlier question it borrowed context from."""

    query: str
    context: str  # "" when the message stands on its own


def last_user_question(history: Sequence[Turn]) -> str:
    """The visitor's most recent earlier message."""
    for turn in reversed(history):
        if turn.role == "user" and turn.content.strip():
            return turn.content.strip()
    return ""


def needs_context(message: str, encoder: BM25Encoder) -> bool:
    """Whether a message only makes sense with the conversation before it."""
    words = re.findall(r"[a-z']+", message.lower())
    if _LEAD.match(message):
        return True
    if any(word in _ANAPHORA for word in words):
        return True
    return len(set(encoder.terms(message))) < MIN_OWN_TERMS


def rewrite_follow_up(message: str, history: Sequence[Turn], encoder: BM25Encoder) -> Rewrite:
    """A standalone query for ``message`` given the conversation ``history``."""
    previous = last_user_question(history)
    if not previous or not needs_context(message, encoder):
        return Rewrite(query=message, context="")
    return Rewrite(query=f"{previous} {message}", context=previous)
