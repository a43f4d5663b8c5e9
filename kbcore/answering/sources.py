"""Sources: retrieved sections with their stored text split into quotable sentences."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from kbcore.answering.models import Citation
from kbcore.retrieval import SectionHit
from kbcore.schema import ChunkPayload

CODE_LINES = 15  # most lines of a code block that follows a sentence ending in ":"


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

    def code_after(self, sentence: Sentence, max_lines: int = CODE_LINES) -> str:
        """The code lines right after ``sentence`` in its stored chunk, as a verbatim span
        starting at the sentence's end ("" when a prose line follows instead)."""
        for chunk in self.chunks:
            end = sentence.offset - chunk.start + len(sentence.text)
            if not 0 <= sentence.offset - chunk.start < end <= len(chunk.text):
                continue
            if chunk.text[sentence.offset - chunk.start : end] != sentence.text:
                continue
            starts = sorted(a for a, _ in chunk.sentences)
            position, lines = end, 0
            while position < len(chunk.text) and chunk.text[position] == "\n" and lines < max_lines:
                line_end = chunk.text.find("\n", position + 1)
                line_end = len(chunk.text) if line_end < 0 else line_end
                if any(position < a < line_end for a in starts):
                    break  # a prose line: the code (if any) ended
                position, lines = line_end, lines + 1
            return chunk.text[end:position] if lines else ""
        return ""

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
