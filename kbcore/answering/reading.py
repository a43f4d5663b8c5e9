"""An answer as a visitor reads it: citation markers and code fences are not read, runs
of whitespace read as one space. The answerer budgets its length this way and ``kb eval``
measures what a reader sees first (``lead@300``) the same way."""

from __future__ import annotations

import re

_MARKER = re.compile(r" ?\[\d{1,3}\]")
_FENCE_LINE = re.compile(r"^```[^\n]*$", re.MULTILINE)
_FENCED = re.compile(r"^```[^\n]*\n.*?^```[^\n]*$", re.MULTILINE | re.DOTALL)
_SPACE = re.compile(r"\s+")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def as_read(answer: str) -> str:
    """The answer's text as it reads: markers dropped, fence lines dropped (the code
    between them stays), inline code without its backticks, whitespace collapsed."""
    text = _CODE_SPAN.sub(r"\1", _FENCE_LINE.sub(" ", _MARKER.sub("", answer)))
    return _SPACE.sub(" ", text).strip()


def prose_of(answer: str) -> str:
    """The answer's prose as it reads: as ``as_read``, with fenced code blocks left out."""
    return as_read(_FENCED.sub(" ", answer))


def read_first(answer: str, chars: int) -> str:
    """The first ``chars`` characters a reader sees."""
    return as_read(answer)[:chars]
