"""Sources: retrieved sections with their stored text split into quotable sentences."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from kbcore.answering.models import Citation
from kbcore.retrieval import SectionHit
from kbcore.schema import ChunkPayload

CODE_LINES = 15  # most lines of a code block that follows a sentence ending in ":"


@dataclass(frozen=True)
class Passage:
    """A verbatim span of a stored chunk, and its lines with whether each is code."""

    quote: str
    lines: list[tuple[str, bool]]

    @property
    def ends_with_code(self) -> bool:
        return bool(self.lines) and self.lines[-1][1]


@dataclass(frozen=True)
class Sentence:
    """A sentence of a source: a verbatim span of one stored chunk's text."""

    text: str
    offset: int  # position in the section's plain text (orders sentences for reading)
    index: int  # 0 = the section's first sentence


@dataclass
class Source:
    """A retrieved section, numbered as the LLM and the citations see it."""

    number: int
    hit: SectionHit
    chunks: list[ChunkPayload] = field(default_factory=list)

    @property
    def is_faq(self) -> bool:
        return self.hit.kind == "faq"

    @cached_property
    def _sentences(self) -> list[Sentence]:
        """Distinct sentences of the stored chunks, in reading order."""
        seen: dict[int, Sentence] = {}
        for chunk in self.chunks:
            for start, end in chunk.sentences:
                offset = chunk.start + start
                if offset not in seen:
                    seen[offset] = Sentence(chunk.text[start:end], offset, 0)
        ordered = sorted(seen.values(), key=lambda s: s.offset)
        return [Sentence(s.text, s.offset, i) for i, s in enumerate(ordered)]

    def sentences(self) -> list[Sentence]:
        """Distinct sentences of the stored chunks, in reading order (computed once)."""
        return self._sentences

    def passage(self, first: Sentence, last: Sentence, with_code: bool = False) -> Passage | None:
        """The verbatim span of a stored chunk from ``first`` to ``last`` (and, with
        ``with_code``, the code lines right after it), line by line with which lines are
        code; ``None`` when no one chunk holds the span."""
        for chunk in self.chunks:
            start = first.offset - chunk.start
            end = last.offset - chunk.start + len(last.text)
            if start < 0 or end > len(chunk.text):
                continue
            quote = chunk.text[start:end]
            if not (quote.startswith(first.text) and quote.endswith(last.text)):
                continue
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
            lines_out: list[tuple[str, bool]] = []
            offset = start
            for line in chunk.text[start:end].split("\n"):
                lines_out.append((line, offset != start and is_code(offset, offset + len(line))))
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


def text_chunks(hit: SectionHit) -> list[ChunkPayload]:
    """A hit's article-text chunks (not question phrasings), in section order."""
    return sorted((c for c in hit.chunks if c.kind != "question"), key=lambda c: c.chunk_index)
