"""The default answerer: no LLM, no network. It answers with the few sentences of the
retrieved sections that best answer the question, each group followed by its marker.

When the best hit is an FAQ entry whose question matches the visitor's, the entry's own
answer is used as it stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kbcore.answering.citations import marker
from kbcore.answering.models import Citation
from kbcore.answering.scoring import ScoredSentence, SentenceScorer
from kbcore.answering.sources import Passage, Sentence, Source
from kbcore.answering.vocabulary import Vocabulary
from kbcore.embedding.base import Vectors

MAX_SENTENCES = 8
MAX_SECTIONS = 3
PER_SECTION = 3  # the first section may give one more
MAX_CHARS = 1000  # sentences stop being added once the answer is this long
# When the counts above stop an answer short of MAX_CHARS (short sentences: table rows,
# list items, option lines), the sections already chosen fill the room: up to
# FILL_SENTENCES in all, FILL_FIRST of them from the best section.
FILL_SENTENCES = 12
FILL_FIRST = 8
FAQ_MATCH = 0.95
FAQ_SENTENCES = 3
LIST_ITEMS = 4  # items that follow a sentence ending in ":" come with it


@dataclass(frozen=True)
class Draft:
    """An answer before verification: text with markers, and the citations they use."""

    text: str
    citations: list[Citation]
    mode: str


@dataclass
class ExtractiveAnswerer:
    """Builds an answer from verbatim sentences of the sources."""

    scorer: SentenceScorer
    max_sentences: int = MAX_SENTENCES
    max_sections: int = MAX_SECTIONS
    per_section: int = PER_SECTION
    first_section: int = PER_SECTION + 1
    max_chars: int = MAX_CHARS
    fill_sentences: int = FILL_SENTENCES
    fill_first: int = FILL_FIRST
    related_only: bool = True
    section_gap: float = 10.0
    faq_match: float = FAQ_MATCH

    def draft(
        self,
        focus: str,
        query_vector: Vectors,
        sources: Sequence[Source],
        vocabulary: Vocabulary,
        context: str = "",
    ) -> Draft:
        """Answer ``focus`` (the visitor's words; ``context`` = the question it follows)."""
        scored = self.scorer.score(focus, query_vector, sources, vocabulary, context=context)
        if not scored:
            return Draft("", [], "extractive")
        faq = self._faq_entry(query_vector, scored[0].source)
        if faq:
            # The FAQ entry's own answer comes first, whole; the best other sentences
            # fill the remaining room.
            rest = [s for s in scored if s.source is not faq[0].source]
            return Draft(*_compose(self._choose(faq + rest, vocabulary.floor)), mode="faq")
        return Draft(*_compose(self._choose(scored, vocabulary.floor)), mode="extractive")

    def _faq_entry(self, query_vector: Vectors, best: Source) -> list[ScoredSentence]:
        """The sentences of the FAQ answer, when the best sentence is in an FAQ entry whose
        question says what the visitor asked (else empty)."""
        if not best.is_faq:
            return []
        (similarity,) = self.scorer.similarity(query_vector, [best.hit.heading])
        if similarity < self.faq_match:
            return []
        return [
            ScoredSentence(best, sentence, similarity + 10.0, 1.0, similarity)
            for sentence in best.sentences()[:FAQ_SENTENCES]
        ]

    def _choose(
        self, scored: list[ScoredSentence], floor: float | None = None
    ) -> list[ScoredSentence]:
        """The best sentences: up to ``first_section`` from the section of the best one,
        up to ``per_section`` from each further section (at most ``max_sections``) that is
        itself similar enough to the question to have answered it (the index's refusal
        floor), ``max_sentences`` and about ``max_chars`` in all. When those counts stop
        the answer short of ``max_chars`` (short sentences: table rows, list items, option
        lines), the next best sentences of the sections already chosen fill the room, up
        to ``fill_first`` from the best section and ``fill_sentences`` in all."""
        best = scored[0]
        chosen = [best]
        counts = {best.source.number: 1}
        lowest = best.score - self.section_gap
        used = len(best.text)
        for limit, first_quota, filling in (
            (self.max_sentences, self.first_section, False),
            (self.fill_sentences, self.fill_first, True),
        ):
            for candidate in scored[1:]:
                if len(chosen) >= limit or used >= self.max_chars:
                    break
                number = candidate.source.number
                if number not in counts and (
                    filling
                    or len(counts) >= self.max_sections
                    or candidate.score < lowest
                    or (
                        floor is not None
                        and self.related_only
                        and (candidate.source.hit.dense_score or 0.0) < floor
                    )
                ):
                    continue
                quota = first_quota if number == best.source.number else self.per_section
                if counts.get(number, 0) >= quota:
                    continue
                if any(
                    _overlaps(candidate.sentence, c.sentence, candidate.source, c.source)
                    for c in chosen
                ):
                    continue
                chosen.append(candidate)
                counts[number] = counts.get(number, 0) + 1
                used += len(candidate.text)
        return self._with_list_items(chosen, scored)

    def _with_list_items(
        self, chosen: list[ScoredSentence], scored: list[ScoredSentence]
    ) -> list[ScoredSentence]:
        """A sentence that introduces a list (ends with ":") brings its first items."""
        out = list(chosen)
        for item in chosen:
            if not item.sentence.text.rstrip().endswith(":"):
                continue
            following = sorted(
                (
                    s
                    for s in scored
                    if s.source.number == item.source.number
                    and item.sentence.index < s.sentence.index <= item.sentence.index + LIST_ITEMS
                ),
                key=lambda s: s.sentence.index,
            )
            out.extend(
                s
                for s in following
                if all(
                    s.sentence.offset != o.sentence.offset or s.source.number != o.source.number
                    for o in out
                )
            )
        return out


def _overlaps(a: Sentence, b: Sentence, source_a: Source, source_b: Source) -> bool:
    return source_a.number == source_b.number and a.offset == b.offset


FENCE = "```"


def render(passage: Passage, mark: str) -> str:
    """How a passage reads in the answer: its lines verbatim, each run of code lines
    between fence lines so it renders as code, and the marker at the end of its prose
    (before a code block that ends it). Taking the markers out and every fence line's
    newline out gives the quote back exactly (``citations.answer_is_its_quotes``)."""
    out: list[str] = []
    in_code = False
    for line, code in passage.lines:
        if code != in_code:
            out.append(FENCE)
            in_code = code
        out.append(line)
    if in_code:
        out.append(FENCE)
    if not passage.ends_with_code:
        return "\n".join(out) + mark
    first_code = (
        len(out) - 1 - next(i for i, line in enumerate(reversed(out[:-1])) if line == FENCE) - 1
    )
    return "\n".join(out[:first_code]) + mark + "\n" + "\n".join(out[first_code:])


def _compose(chosen: list[ScoredSentence]) -> tuple[str, list[Citation]]:
    """Reading order within each section; sections in order of their best sentence; one
    citation per run of adjacent sentences (its quote is their verbatim span, with the
    code block that follows a sentence ending in ":"). The answer is the quotes and their
    markers, nothing else."""
    order: list[int] = []
    by_source: dict[int, list[ScoredSentence]] = {}
    for item in chosen:
        if item.source.number not in by_source:
            order.append(item.source.number)
        by_source.setdefault(item.source.number, []).append(item)
    parts: list[str] = []
    citations: list[Citation] = []
    for number in order:
        items = sorted(by_source[number], key=lambda s: s.sentence.offset)
        runs: list[list[ScoredSentence]] = []
        for item in items:
            if runs and item.sentence.index == runs[-1][-1].sentence.index + 1:
                runs[-1].append(item)
            else:
                runs.append([item])
        for run in runs:
            source = run[0].source
            for piece in _passages(source, [item.sentence for item in run]):
                citations.append(source.cite(len(citations) + 1, piece.quote))
                parts.append(render(piece, marker(len(citations))))
    return _join(parts), citations


def _passages(source: Source, run: list[Sentence]) -> list[Passage]:
    """A run of adjacent sentences as the fewest verbatim passages: as far as one stored
    chunk holds it, each with the code block that follows a sentence ending in ":" (a run
    that crosses a chunk boundary is cut there, not into single sentences)."""
    out: list[Passage] = []
    first = 0
    while first < len(run):
        best: Passage | None = None
        last = first
        for end in range(first, len(run)):
            found = source.passage(run[first], run[end], run[end].text.rstrip().endswith(":"))
            if found is None:
                break
            best, last = found, end
        if best is None:  # no chunk holds the sentence verbatim: quote it as it is
            best = Passage(run[first].text, [(run[first].text, False)])
        out.append(best)
        first = last + 1
    return out


def _join(parts: list[str]) -> str:
    """Parts side by side; after a code block the next part starts on a new line."""
    out = ""
    for part in parts:
        if out:
            out += "\n" if out.endswith(FENCE) else " "
        out += part
    return out
