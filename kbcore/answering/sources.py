"""Sources: retrieved sections with their stored text split into quotable sentences."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Literal

import numpy as np

from kbcore.answering.models import Citation
from kbcore.embedding.base import Vectors
from kbcore.retrieval import SectionHit
from kbcore.schema import ChunkPayload

CODE_LINES = 8  # most lines of a code block that follows a sentence ending in ":"


LineKind = Literal["prose", "code", "head", "row"]  # head/row: a table's header row, a row


@dataclass(frozen=True)
class Passage:
    """A verbatim span of a stored chunk, and its lines with what each is: prose, code,
    or a table's (its header row, or a row)."""

    quote: str
    lines: list[tuple[str, LineKind]]

    @property
    def ends_with_code(self) -> bool:
        return bool(self.lines) and self.lines[-1][1] == "code"


@dataclass(frozen=True)
class Sentence:
    """A sentence of a source: a verbatim span of one stored chunk's text."""

    text: str
    offset: int  # position in the section's plain text (orders sentences for reading)
    index: int  # 0 = the section's first sentence
    vector: Vectors | None = field(default=None, compare=False, repr=False)
    code_follows: bool = False  # the next line is code (or a table's header row)
    table_header: str = ""  # a table row: its table's header row ("" for other sentences)

    @property
    def reads_as(self) -> str:
        """What the sentence says: a table row with each cell labelled by its column
        ("Default: 80 | CLI Override: --print-width <int>"), other sentences as written."""
        if not self.table_header:
            return self.text
        labels, cells = self.table_header.split(" | "), self.text.split(" | ")
        if len(labels) != len(cells):
            return f"{self.table_header}: {self.text}"
        return " | ".join(
            f"{a}: {b}" if a and b else a or b for a, b in zip(labels, cells, strict=True)
        )


@dataclass
class Source:
    """A retrieved section, numbered as the LLM and the citations see it."""

    number: int
    hit: SectionHit
    chunks: list[ChunkPayload] = field(default_factory=list)
    # Per chunk (by ``chunk_index``): the stored vectors of its heading path (row 0) and
    # of each of its sentences (``kbcore.schema.SENTENCE_VECTORS``); absent for an index
    # whose embedder gives none.
    vectors: dict[int, Vectors] = field(default_factory=dict)

    @property
    def is_faq(self) -> bool:
        return self.hit.kind == "faq"

    @property
    def heading_vector(self) -> Vectors | None:
        """The stored vector of the section's heading path, if the index has one."""
        for rows in self.vectors.values():
            if len(rows) and np.any(rows[0]):
                vector: Vectors = rows[0]
                return vector
        return None

    @cached_property
    def _sentences(self) -> list[Sentence]:
        """Distinct sentences of the stored chunks, in reading order."""
        seen: dict[int, Sentence] = {}
        for chunk in self.chunks:
            rows = self.vectors.get(chunk.chunk_index)
            usable = rows is not None and len(rows) == len(chunk.sentences) + 1
            starts = {a for a, _ in chunk.sentences}
            headers = _table_headers(chunk)
            for number, (start, end) in enumerate(chunk.sentences):
                offset = chunk.start + start
                if offset in seen:
                    continue
                vector = rows[number + 1] if usable and rows is not None else None
                if vector is not None and not np.any(vector):
                    vector = None  # past the model's token limit: no vector
                seen[offset] = Sentence(
                    chunk.text[start:end],
                    offset,
                    0,
                    vector,
                    _code_follows(chunk.text, end, starts),
                    headers.get(start, ""),
                )
        ordered = sorted(seen.values(), key=lambda s: s.offset)
        return [replace(s, index=i) for i, s in enumerate(ordered)]

    def sentences(self) -> list[Sentence]:
        """Distinct sentences of the stored chunks, in reading order (computed once)."""
        return self._sentences

    def passage(self, first: Sentence, last: Sentence, with_code: bool = False) -> Passage | None:
        """The verbatim span of a stored chunk from ``first`` to ``last`` (and, with
        ``with_code``, the code lines right after it; a table's first row comes with the
        header row right above it), line by line with what each line is; ``None`` when no
        one chunk holds the span."""
        for chunk in self.chunks:
            start = first.offset - chunk.start
            end = last.offset - chunk.start + len(last.text)
            if start < 0 or end > len(chunk.text):
                continue
            quote = chunk.text[start:end]
            if not (quote.startswith(first.text) and quote.endswith(last.text)):
                continue
            tables = chunk.tables
            header = _header_above(chunk, start)
            if header is not None:
                start = header
            starts = [a for a, _ in chunk.sentences]

            def is_code(line_start: int, line_end: int, starts: list[int] = starts) -> bool:
                """No sentence starts on the line: code (or a table's header row)."""
                return not any(line_start <= a < max(line_end, line_start + 1) for a in starts)

            if with_code:
                position, lines = end, 0
                while position < len(chunk.text) and chunk.text[position] == "\n":
                    line_end = chunk.text.find("\n", position + 1)
                    line_end = len(chunk.text) if line_end < 0 else line_end
                    if lines >= CODE_LINES or not is_code(position + 1, line_end):
                        break
                    position, lines = line_end, lines + 1
                end = position
            lines_out: list[tuple[str, LineKind]] = []
            offset = start
            for line in chunk.text[start:end].split("\n"):
                kind: LineKind = "prose"
                if any(a == offset for a, _ in tables):
                    kind = "head" if is_code(offset, offset + len(line)) else "row"
                elif offset != start and is_code(offset, offset + len(line)):
                    kind = "code"
                lines_out.append((line, kind))
                offset += len(line) + 1
            return Passage(chunk.text[start:end], lines_out)
        return None

    def text(self) -> str:
        """The stored text available for quoting (chunks joined, overlaps kept)."""
        return "\n".join(chunk.text for chunk in self.chunks)

    def cite(self, number: int, quote: str) -> Citation:
        """A citation of this section with ``quote`` (verified later, like every quote)."""
        hit = self.hit
        return Citation(
            id=number,
            article=hit.article,
            title=hit.title,
            heading=hit.heading,
            anchor=hit.anchor,
            url=hit.url,
            path=hit.path,
            quote=quote,
            score=hit.score,
        )

    def contains(self, quote: str) -> bool:
        """Whether ``quote`` is a verbatim span of one stored chunk of this section."""
        return bool(quote) and any(quote in chunk.text for chunk in self.chunks)


def _table_headers(chunk: ChunkPayload) -> dict[int, str]:
    """For each table row of a chunk (by where it starts), its table's header row: the
    table line above it that no sentence starts on, with only table lines in between."""
    starts = {a for a, _ in chunk.sentences}
    out: dict[int, str] = {}
    header = ""
    previous_end = -2
    for a, b in sorted(chunk.tables):
        if a != previous_end + 1:  # a new table starts: no header known yet
            header = ""
        if a in starts:
            out[a] = header
        else:
            header = chunk.text[a:b]
        previous_end = b
    return out


TABLE_ROWS_ABOVE = 2  # rows of a table a quoted row may bring to reach its header row


def _header_above(chunk: ChunkPayload, start: int) -> int | None:
    """Where the header row of the table holding the row at ``start`` begins, when at
    most ``TABLE_ROWS_ABOVE`` rows lie between them (a quote from there shows the row
    under its header, as the page does); ``None`` otherwise."""
    starts = {a for a, _ in chunk.sentences}
    lines = sorted(chunk.tables)
    index = next((i for i, (a, _) in enumerate(lines) if a == start), None)
    if index is None:
        return None
    for back in range(index - 1, max(index - 2 - TABLE_ROWS_ABOVE, -1), -1):
        a, b = lines[back]
        if b + 1 != lines[back + 1][0]:
            return None  # not the same table
        if a not in starts:
            return a  # the header row (no sentence starts on it)
    return None


def _code_follows(text: str, end: int, starts: set[int]) -> bool:
    """Whether the line after the one ending at ``end`` holds no sentence (code, or a
    table's header row)."""
    if not text.startswith("\n", end):
        return False
    line_end = text.find("\n", end + 1)
    line_end = len(text) if line_end < 0 else line_end
    return line_end > end + 1 and not any(end + 1 <= a < line_end for a in starts)


def text_chunks(hit: SectionHit) -> list[ChunkPayload]:
    """A hit's article-text chunks (not question phrasings), in section order."""
    return sorted((c for c in hit.chunks if c.kind != "question"), key=lambda c: c.chunk_index)
