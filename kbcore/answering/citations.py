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
from collections.abc import Mapping, Sequence
from dataclasses import replace

from kbcore.answering.models import Citation
from kbcore.answering.sources import Source

OPEN, CLOSE = "\x1e", "\x1f"
SENTINEL = re.compile(r" ?\x1e(\d{1,3})\x1f")
_GROUPED = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})+)\]")


def marker(number: int) -> str:
    """The drafting form of citation marker ``[number]`` (preceded by a space)."""
    return f" {OPEN}{number}{CLOSE}"


def split_grouped_markers(text: str) -> str:
    """``[1, 3]`` -> ``[1][3]`` so each id is checked on its own."""
    return _GROUPED.sub(lambda m: "".join(f"[{n.strip()}]" for n in m.group(1).split(",")), text)


_FULLWIDTH = re.compile(r"【\s*(\d{1,3})\s*】")
_FOOTNOTE = re.compile(r"\[\^(\d{1,3})\]")
_SOURCE_WORD = re.compile(
    r"[(\[]\s*(?:sources?|refs?|citations?)\s*:?\s*#?"
    r"(\d{1,3}(?:\s*(?:,|and|&)\s*\d{1,3})*)\s*[)\]]",
    re.IGNORECASE,
)
_RANGE = re.compile(r"\[(\d{1,3})\s*[-–]\s*(\d{1,3})\]")
_GLUED = re.compile(r"(?<=[\w.,;:)%])((?:\[\d{1,3}\])+)(?=[\s.,;:!?)]|$)")


def normalize_markers(text: str) -> str:
    """The marker forms real models write, as ``[n]`` markers after a space: ``【1】``,
    ``[^1]``, ``(source 1)``, ``[Source: 1, 2]``, ``[1-3]``, ``[1, 2]``, and markers glued
    to the word before them (``costs $50[1].``). Text inside backticks is left alone
    (``arr[2]`` in code)."""
    pieces = re.split(r"(`[^`\n]*`)", text)
    for i, piece in enumerate(pieces):
        if i % 2:
            continue
        piece = _FULLWIDTH.sub(r"[\1]", piece)
        piece = _FOOTNOTE.sub(r"[\1]", piece)
        piece = _SOURCE_WORD.sub(
            lambda m: "".join(f"[{n}]" for n in re.findall(r"\d{1,3}", m.group(1))), piece
        )
        piece = _RANGE.sub(
            lambda m: "".join(
                f"[{n}]"
                for n in range(int(m.group(1)), min(int(m.group(2)), int(m.group(1)) + 9) + 1)
            ),
            piece,
        )
        piece = split_grouped_markers(piece)
        pieces[i] = _GLUED.sub(r" \1", piece)
    return "".join(pieces)


def sentinel_ids(text: str) -> list[int]:
    """Citation ids of the drafting markers, in order of first use."""
    seen: list[int] = []
    for match in SENTINEL.finditer(text):
        number = int(match.group(1))
        if number not in seen:
            seen.append(number)
    return seen


def answer_is_its_quotes(answer: str, citations: Sequence[Citation]) -> bool:
    """Whether an extractive answer is its citations' quotes, in order, each with its
    ``[n]`` marker (at its end, or before the code block that ends it), a space or a line
    break between two, code blocks fenced, table lines as Markdown table rows (with the
    separator row under a header), a quote optionally led by the name its section
    documents (its heading as code: ``server.port``: ...) or, when it opens with a table,
    by its heading in bold and the marker (``**Print Width** [1]``), and nothing else: no
    spacing, punctuation or bracket of the articles changed."""
    text = _untabled(answer).replace("\n```\n", "\n")
    text = text[: -len("\n```")] if text.endswith("\n```") else text
    position = 0
    for number, citation in enumerate(citations, start=1):
        quote, mark = citation.quote, f" [{number}]"
        if position:
            if text[position : position + 1] not in (" ", "\n"):
                return False
            position += 1
        cuts = [len(quote), *(i for i, c in enumerate(quote) if c == "\n")]
        label = f"`{citation.heading}`: "
        forms = [lead + quote[:cut] + mark + quote[cut:] for lead in ("", label) for cut in cuts]
        forms.append(f"**{citation.heading}**{mark}\n{quote}")
        part = next((form for form in forms if text.startswith(form, position)), None)
        if part is None:
            return False
        position += len(part)
    return position == len(text)


_TABLE_ROW = re.compile(r"\| (.*) \|")
_TABLE_SEPARATOR = re.compile(r"\|(?: --- \|)+")


def _untabled(answer: str) -> str:
    """An answer with its Markdown tables back to stored table lines (``| a | b |`` ->
    ``a | b``, separator rows and the blank lines around a table dropped); code blocks
    are left as they are."""
    lines = answer.split("\n")
    tabular = [False] * len(lines)
    in_code = False
    for i, line in enumerate(lines):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code:
            tabular[i] = bool(_TABLE_ROW.fullmatch(line) or _TABLE_SEPARATOR.fullmatch(line))
    out: list[str] = []
    for i, line in enumerate(lines):
        if tabular[i]:
            row = _TABLE_ROW.fullmatch(line)
            if row and not _TABLE_SEPARATOR.fullmatch(line):
                out.append(row.group(1))
            continue
        beside = (i > 0 and tabular[i - 1]) or (i + 1 < len(lines) and tabular[i + 1])
        if not line and beside:
            continue  # the blank line around a table
        out.append(line)
    return "\n".join(out)


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


def verify_evidence(
    evidence: Sequence[Citation], sources: Mapping[tuple[str, str], Source], after: int
) -> list[Citation]:
    """The evidence citations whose quotes are verbatim spans of their sections' stored
    text, numbered from ``after + 1`` (they follow the answer's own), ``in_answer`` off."""
    checked = [
        c
        for c in evidence
        if (source := sources.get((c.article, c.anchor))) is not None and source.contains(c.quote)
    ]
    return [replace(c, id=after + n, in_answer=False) for n, c in enumerate(checked, start=1)]
