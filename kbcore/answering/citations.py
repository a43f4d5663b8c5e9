"""Citation verification, run on every answer before it leaves the server.

- every quote must be a verbatim span of the cited section's stored text;
- ``[n]`` markers with no (verified) citation are removed from the answer;
- citations that no marker uses are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kbcore.answering.models import Citation
from kbcore.answering.sources import Source

MARKER = re.compile(r"\[(\d{1,3})\]")
_GROUPED = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})+)\]")
_SPACE_BEFORE_PUNCT = re.compile(r"[ \t]+([.,;:!?])")
_DOUBLE_SPACE = re.compile(r"[ \t]{2,}")


def split_grouped_markers(text: str) -> str:
    """``[1, 3]`` -> ``[1][3]`` so each id is checked on its own."""
    return _GROUPED.sub(lambda m: "".join(f"[{n.strip()}]" for n in m.group(1).split(",")), text)


def marker_ids(text: str) -> list[int]:
    """Citation ids in order of first use."""
    seen: list[int] = []
    for match in MARKER.finditer(text):
        number = int(match.group(1))
        if number not in seen:
            seen.append(number)
    return seen


def strip_markers(text: str, keep: set[int]) -> str:
    """Remove markers whose id is not in ``keep`` and tidy the spacing left behind."""
    cleaned = MARKER.sub(lambda m: m.group(0) if int(m.group(1)) in keep else "", text)
    cleaned = _SPACE_BEFORE_PUNCT.sub(r"\1", cleaned)
    return _DOUBLE_SPACE.sub(" ", cleaned).strip()


def verify(
    answer: str,
    citations: list[Citation],
    sources: Mapping[tuple[str, str], Source],
) -> tuple[str, list[Citation]]:
    """The answer and citations that survive verification (see module docstring)."""
    answer = split_grouped_markers(answer)
    verified = []
    for citation in citations:
        source = sources.get((citation.article, citation.anchor))
        if source is not None and source.contains(citation.quote):
            verified.append(citation)
    valid_ids = {c.id for c in verified}
    answer = strip_markers(answer, valid_ids)
    used = set(marker_ids(answer))
    return answer, [c for c in verified if c.id in used]
