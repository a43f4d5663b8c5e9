"""Sections -> chunks that fit the embedding model.

A chunk is a verbatim slice of its section's plain text, cut at sentence boundaries under
a token cap (heading path included), with a small overlap of trailing sentences. The
heading path is prepended to the text that is embedded, never to the stored text, so any
quote taken from a chunk is a verbatim span of the section.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from ingest.articles import Article
from ingest.sentences import SentenceSplitter
from ingest.urls import section_url
from kbcore.schema import ChunkKind, ChunkPayload, OutlineEntry, point_id

TokenCounter = Callable[[str], int]
_WORD = re.compile(r"\S+\s*")
MIN_BUDGET = 16


@dataclass(frozen=True)
class PreparedChunk:
    """A chunk ready to embed: its stable id, payload and the text the model sees."""

    id: str
    payload: ChunkPayload
    embed_text: str


@dataclass(frozen=True)
class ChunkingConfig:
    """Token cap of an embedded chunk and the overlap between neighbours."""

    max_tokens: int = 256
    overlap_tokens: int = 32


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def _split_long(
    text: str, start: int, end: int, budget: int, count: TokenCounter
) -> list[tuple[int, int]]:
    """Cut one over-long sentence into word-aligned pieces under ``budget`` tokens."""
    pieces: list[tuple[int, int]] = []
    piece_start, used = start, 0
    for match in _WORD.finditer(text, start, end):
        word_start, word_end = match.start(), min(match.end(), end)
        tokens = count(text[word_start:word_end])
        if tokens > budget:  # a single "word" longer than the cap: cut by characters
            if used:
                pieces.append((piece_start, word_start))
            step = max(budget * 2, 1)
            for cut in range(word_start, word_end, step):
                pieces.append((cut, min(cut + step, word_end)))
            piece_start, used = word_end, 0
            continue
        if used + tokens > budget and used:
            pieces.append((piece_start, word_start))
            piece_start, used = word_start, 0
        used += tokens
    if piece_start < end:
        pieces.append((piece_start, end))
    return [(a, b) for a, b in ((a, len(text[:b].rstrip())) for a, b in pieces) if b > a]


def pack_sentences(
    text: str,
    spans: list[tuple[int, int]],
    budget: int,
    overlap: int,
    count: TokenCounter,
) -> list[list[tuple[int, int]]]:
    """Group sentence spans into chunks under ``budget`` tokens, overlapping neighbours."""
    units: list[tuple[int, int, int]] = []  # (start, end, tokens)
    for start, end in spans:
        tokens = count(text[start:end])
        if tokens <= budget:
            units.append((start, end, tokens))
        else:
            units.extend(
                (a, b, count(text[a:b])) for a, b in _split_long(text, start, end, budget, count)
            )
    groups: list[list[tuple[int, int, int]]] = []
    current: list[tuple[int, int, int]] = []
    used = 0
    for unit in units:
        if current and used + unit[2] > budget:
            groups.append(current)
            carry: list[tuple[int, int, int]] = []
            carried = 0
            for previous in reversed(current):
                if carried + previous[2] > overlap or carried + previous[2] + unit[2] > budget:
                    break
                carry.insert(0, previous)
                carried += previous[2]
            if len(carry) == len(current):  # never repeat a whole chunk
                carry, carried = [], 0
            current, used = carry, carried
        current.append(unit)
        used += unit[2]
    if current:
        groups.append(current)
    return [[(a, b) for a, b, _ in group] for group in groups]


def chunk_article(
    article: Article,
    splitter: SentenceSplitter,
    count: TokenCounter,
    config: ChunkingConfig,
) -> list[PreparedChunk]:
    """Every chunk of an article, plus one point per front-matter question."""
    outline = [
        OutlineEntry(level=s.level, heading=s.heading, anchor=s.anchor)
        for s in article.sections
        if s.level > 0
    ]
    common = {
        "article": article.slug,
        "title": article.title,
        "tags": list(article.tags),
        "updated": article.updated.isoformat(),
        "summary": article.summary,
        "path": article.rel,
        "page_url": article.url,
    }
    chunks: list[PreparedChunk] = []
    for index, section in enumerate(article.sections):
        if not section.text.strip():
            continue
        section_hash = _digest(section.heading_path, section.text)
        prefix = section.heading_path
        budget = max(config.max_tokens - count(prefix) - 1, MIN_BUDGET)
        spans = splitter.spans(section.text, whole=section.tables)
        prose_spans = (
            splitter.spans(section.text, section.prose, section.tables)
            if not all(section.prose)
            else spans
        )
        table_lines = _table_lines(section.text, section.tables)
        groups = pack_sentences(section.text, spans, budget, config.overlap_tokens, count)
        for chunk_index, group in enumerate(groups):
            start, end = group[0][0], group[-1][1]
            text = section.text[start:end]
            embed_text = f"{prefix}\n{text}"
            kind: ChunkKind = section.kind
            content_hash = _digest(kind, embed_text)
            chunks.append(
                PreparedChunk(
                    id=point_id(article.slug, section.anchor, chunk_index, kind, content_hash),
                    embed_text=embed_text,
                    payload=ChunkPayload(
                        **common,
                        url=section_url(article.url, section.anchor),
                        anchor=section.anchor,
                        heading=section.heading,
                        heading_path=section.heading_path,
                        level=section.level,
                        kind=kind,
                        section_index=index,
                        chunk_index=chunk_index,
                        chunk_count=len(groups),
                        text=text,
                        start=start,
                        sentences=[
                            (a - start, b - start)
                            for a, b in group_sentences(prose_spans, start, end)
                        ],
                        tables=[
                            (a - start, b - start)
                            for a, b in group_sentences(table_lines, start, end)
                        ],
                        content_hash=content_hash,
                        section_hash=section_hash,
                    ),
                )
            )
    overview = article.sections[0] if article.sections else None
    for number, question in enumerate(article.questions):
        content_hash = _digest("question", question)
        chunks.append(
            PreparedChunk(
                id=point_id(article.slug, "", number, "question", content_hash),
                embed_text=question,
                payload=ChunkPayload(
                    **common,
                    url=article.url,
                    anchor="",
                    heading=article.title,
                    heading_path=article.title,
                    level=0,
                    kind="question",
                    section_index=0,
                    chunk_index=number,
                    chunk_count=len(article.questions),
                    text=question,
                    start=0,
                    sentences=[(0, len(question))],
                    content_hash=content_hash,
                    section_hash=_digest(
                        article.title, overview.text if overview else "", *article.questions
                    ),
                ),
            )
        )
    if chunks:
        head = chunks[0]
        chunks[0] = PreparedChunk(
            id=head.id,
            embed_text=head.embed_text,
            payload=head.payload.model_copy(
                update={"outline": outline, "questions": list(article.questions)}
            ),
        )
    return chunks


def _table_lines(text: str, tables: tuple[bool, ...]) -> list[tuple[int, int]]:
    """Spans of the lines of ``text`` that belong to a table (header rows and rows)."""
    out: list[tuple[int, int]] = []
    position = 0
    for number, line in enumerate(text.split("\n")):
        if number < len(tables) and tables[number] and line.strip():
            out.append((position, position + len(line)))
        position += len(line) + 1
    return out


def group_sentences(spans: list[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside ``[start, end)``, clipped (long sentences may have been cut)."""
    out = []
    for a, b in spans:
        if b <= start or a >= end:
            continue
        out.append((max(a, start), min(b, end)))
    return out
