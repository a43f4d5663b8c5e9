"""Follow-up questions -> standalone queries, so retrieval sees what the visitor means.

Deterministic by default: a message that leans on the conversation is joined to the last
question the visitor asked. It leans on it when it says so ("and ...", "what about
Claude?") or points back ("does it cost more?"); a short message that does neither is a
follow-up only by meaning: when it continues the previous turn's topic (shares a term with
it) and does not stand on its own in the knowledge base (the engine checks that it finds
nothing close enough by itself). "what is the capital of France?" after a question about
cost is a new question. With an LLM configured the engine asks the LLM instead.
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
    # True when only its shortness and topic made the message a follow-up: the engine
    # keeps it standalone if it finds a close section by itself.
    elliptical: bool = False


def last_user_question(history: Sequence[Turn]) -> str:
    """The visitor's most recent earlier message."""
    for turn in reversed(history):
        if turn.role == "user" and turn.content.strip():
            return turn.content.strip()
    return ""


def says_follow_up(message: str) -> bool:
    """Whether a message says it continues the conversation ("and ...", "it", "that")."""
    words = re.findall(r"[a-z']+", message.lower())
    return bool(_LEAD.match(message)) or any(word in _ANAPHORA for word in words)


def _last_turn(history: Sequence[Turn]) -> str:
    """The visitor's last question and the answer it got."""
    out: list[str] = []
    for turn in reversed(history):
        out.append(turn.content)
        if turn.role == "user":
            break
    return " ".join(out)


def rewrite_follow_up(message: str, history: Sequence[Turn], encoder: BM25Encoder) -> Rewrite:
    """A standalone query for ``message`` given the conversation ``history``."""
    previous = last_user_question(history)
    if not previous:
        return Rewrite(query=message, context="")
    if says_follow_up(message):
        return Rewrite(query=f"{previous} {message}", context=previous)
    own = set(encoder.terms(message))
    if len(own) >= MIN_OWN_TERMS or not own & set(encoder.terms(_last_turn(history))):
        return Rewrite(query=message, context="")
    return Rewrite(query=f"{previous} {message}", context=previous, elliptical=True)
