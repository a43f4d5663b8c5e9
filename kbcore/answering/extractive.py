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
from kbcore.answering.sources import Sentence, Source
from kbcore.answering.vocabulary import Vocabulary
from kbcore.embedding.base import Vectors

MAX_SENTENCES = 4
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
            chosen = self._choose(faq + [s for s in scored if s.source is not faq[0].source])
            return Draft(*_compose(chosen), mode="faq")
        return Draft(*_compose(self._choose(scored)), mode="extractive")

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

    def _choose(self, scored: list[ScoredSentence]) -> list[ScoredSentence]:
        best = scored[0]
        chosen = [best]
        sections = {best.source.number}
        for candidate in scored[1:]:
            if len(chosen) >= self.max_sentences:
                break
            if candidate.source.number not in sections and len(sections) >= 2:
                continue
            if any(
                _overlaps(candidate.sentence, c.sentence, candidate.source, c.source)
                for c in chosen
            ):
                continue
            chosen.append(candidate)
            sections.add(candidate.source.number)
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


def display(quote: str, code: str) -> str:
    """How a quote reads in the answer: verbatim, with the code block that ends it (the
    ``code`` suffix of ``quote``) fenced so it renders as code."""
    if not code:
        return quote
    return f"{quote[: len(quote) - len(code)]}\n{FENCE}{code}\n{FENCE}"


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
            last = run[-1].sentence
            code = source.code_after(last) if last.text.rstrip().endswith(":") else ""
            quote = _span(source, run)
            if quote is None:  # not contiguous in one stored chunk: cite each sentence
                for single in run:
                    citations.append(single.source.cite(len(citations) + 1, single.sentence.text))
                    parts.append(single.sentence.text + marker(len(citations)))
                continue
            citations.append(source.cite(len(citations) + 1, quote + code))
            parts.append(display(quote + code, code) + marker(len(citations)))
    return " ".join(parts), citations


def _span(source: Source, run: list[ScoredSentence]) -> str | None:
    first, last = run[0].sentence, run[-1].sentence
    for chunk in source.chunks:
        start = first.offset - chunk.start
        end = last.offset - chunk.start + len(last.text)
        if start >= 0 and end <= len(chunk.text):
            quote = chunk.text[start:end]
            if quote.startswith(first.text) and quote.endswith(last.text):
                return quote
    return None
