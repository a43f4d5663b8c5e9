"""Citation markers and their verification, run on every answer before it leaves the server.

While an answer is drafted, its markers are sentinels (``\\x1e1\\x1f``) that article text
cannot contain (control characters are removed at indexing): only markers the answerer
inserted are ever parsed or removed, so ``arr[2]`` in a quoted code line stays as it is.

- every quote must be a verbatim span of the cited section's stored text;
- markers with no (verified) citation are removed, each with the one space before it;
- citations that no marker uses are dropped;
- the rest are numbered 1, 2, ... in order of first use and become ``[n]``.

Nothing else in the answer text is touched: an extractive answer is its quotes and markers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from kbcore.answering.models import Citation
from kbcore.answering.sources import Source

OPEN, CLOSE = "\x1e", "\x1f"
SENTINEL = re.compile(r" ?\x1e(\d{1,3})\x1f")
MARKER = re.compile(r"\[(\d{1,3})\]")
_GROUPED = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})+)\]")


def marker(number: int) -> str:
    """The drafting form of citation marker ``[number]`` (preceded by a space)."""
    return f" {OPEN}{number}{CLOSE}"


def split_grouped_markers(text: str) -> str:
    """``[1, 3]`` -> ``[1][3]`` so each id is checked on its own."""
    return _GROUPED.sub(lambda m: "".join(f"[{n.strip()}]" for n in m.group(1).split(",")), text)


def adopt_markers(text: str, valid: set[int]) -> str:
    """An LLM's ``[n]`` markers naming one of its sources -> drafting markers."""

    def swap(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return f"{OPEN}{number}{CLOSE}" if number in valid else match.group(0)

    return MARKER.sub(swap, split_grouped_markers(text))


def sentinel_ids(text: str) -> list[int]:
    """Citation ids of the drafting markers, in order of first use."""
    seen: list[int] = []
    for match in SENTINEL.finditer(text):
        number = int(match.group(1))
        if number not in seen:
            seen.append(number)
    return seen


def verify(
    answer: str,
    citations: list[Citation],
    sources: Mapping[tuple[str, str], Source],
) -> tuple[str, list[Citation]]:
    """The answer and citations that survive verification (see module docstring)."""
    verified = {
        c.id: c
        for c in citations
        if (source := sources.get((c.article, c.anchor))) is not None and source.contains(c.quote)
    }
    order = [n for n in sentinel_ids(answer) if n in verified]
    renumber = {old: new for new, old in enumerate(order, start=1)}

    def final(match: re.Match[str]) -> str:
        number = renumber.get(int(match.group(1)))
        if number is None:
            return ""
        return f"{' ' if match.group(0).startswith(' ') else ''}[{number}]"

    text = SENTINEL.sub(final, answer).strip()
    return text, [replace(verified[old], id=new) for old, new in renumber.items()]
