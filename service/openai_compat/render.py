"""A verified answer -> an OpenAI assistant message whose citations every client can show.

Citations travel three ways:

- in the text: the answer's ``[n]`` markers, then a "Sources:" list linking each ``[n]``
  to its section (plain Markdown, for front-ends that render nothing else);
- as OpenAI ``url_citation`` annotations, one per marker, whose ``start_index`` and
  ``end_index`` delimit that ``[n]`` in the content (Python string indices);
- in the ``kb`` extension object: the citations with their verified quotes, ``grounded``,
  the refusal, suggestions and the index version, as ``POST /v1/chat`` returns them.

A refusal is an ordinary assistant message that says so, with the nearest articles as
links. The answer text itself (fenced code included) is never changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from kbcore.answering.models import Answer, Citation
from service.openai_compat.schemas import Annotation, KbExtension, UrlCitation

SOURCES = "Sources:"
_FENCE = re.compile(r"^ {0,3}(```+|~~~+)", re.M)
_MARKER = re.compile(r"(?<= )\[(\d{1,3})\]")
_PIECE = re.compile(r"\S+\s*|\s+")
PIECE_CHARS = 48


@dataclass(frozen=True)
class Rendered:
    content: str
    annotations: list[Annotation]
    kb: KbExtension


def _md_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _md_url(url: str) -> str:
    return quote(url, safe=":/?#[]@!$&'*+,;=%~")


def _fenced_spans(text: str) -> list[tuple[int, int]]:
    """Where fenced code blocks are (markers are never inside one)."""
    spans, start = [], None
    for match in _FENCE.finditer(text):
        if start is None:
            start = match.start()
        else:
            spans.append((start, match.end()))
            start = None
    if start is not None:
        spans.append((start, len(text)))
    return spans


def marker_annotations(text: str, citations: list[Citation]) -> list[Annotation]:
    """One ``url_citation`` per ``[n]`` marker of ``text`` that names a citation."""
    by_id = {c.id: c for c in citations}
    fenced = _fenced_spans(text)
    out: list[Annotation] = []
    for match in _MARKER.finditer(text):
        citation = by_id.get(int(match.group(1)))
        if citation is None or any(a <= match.start() < b for a, b in fenced):
            continue
        out.append(
            Annotation(
                url_citation=UrlCitation(
                    url=citation.url,
                    title=citation.label,
                    start_index=match.start(),
                    end_index=match.end(),
                )
            )
        )
    return out


def sources_block(answer: Answer) -> str:
    """The links under the answer: each citation's section, or the suggested articles."""
    if answer.citations:
        items = [f"- [{c.id}] [{_md_text(c.label)}]({_md_url(c.url)})" for c in answer.citations]
        return f"\n\n{SOURCES}\n" + "\n".join(items)
    if answer.suggestions:
        items = [f"- [{_md_text(s.title)}]({_md_url(s.url)})" for s in answer.suggestions]
        return "\n\n" + "\n".join(items)
    return ""


def strip_sources(text: str) -> str:
    """An earlier answer of ours without its "Sources:" list (history for a follow-up)."""
    head, separator, _ = text.rpartition(f"\n\n{SOURCES}\n")
    return head if separator else text


def render(answer: Answer, message_id: str | None = None) -> Rendered:
    """The message content, its annotations and the ``kb`` extension (URLs as given)."""
    body = {**answer.to_json(""), "message_id": message_id}
    return Rendered(
        content=answer.answer + sources_block(answer),
        annotations=marker_annotations(answer.answer, answer.citations),
        kb=KbExtension.model_validate(body),
    )


def pieces(text: str, size: int = PIECE_CHARS) -> list[str]:
    """``text`` cut at spaces into pieces of about ``size`` characters; joined, they are
    exactly ``text``."""
    out: list[str] = []
    current = ""
    for token in _PIECE.findall(text):
        if current and len(current) + len(token) > size:
            out.append(current)
            current = ""
        current += token
    if current:
        out.append(current)
    return out
