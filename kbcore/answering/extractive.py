"""The default answerer: no LLM, no network. It leads with the sentence that answers.

An answer is read the way a visitor reads it, first lines first:

- the **lead**: the sentence the ranker (``kbcore.answering.ranker``) scores highest as
  the answer, never a bare heading-like fragment, a question or a pointer elsewhere; a
  sentence ending in ":" brings the code (or the first list items) it introduces;
- then at most what the lead needs: up to ``SUPPORT`` more of the best sentences, scored
  within ``SUPPORT_MARGIN`` of the lead, from sections that bear on the question (as
  similar as the index's refusal floor), never a passage already said on another page;
- all of it within ``MAX_PROSE`` characters of prose as read (code blocks aside).

Every part is a verbatim quote with its marker; the citations carry the quotes. When the
best hit is an FAQ entry whose question matches the visitor's, the entry's own answer
leads as it stands.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from kbcore.answering import signals as sig
from kbcore.answering.citations import marker
from kbcore.answering.features import names_identifier
from kbcore.answering.models import Citation
from kbcore.answering.reading import prose_of
from kbcore.answering.scoring import ScoredSentence, SentenceScorer
from kbcore.answering.sources import TABLE_ROWS_ABOVE, Passage, Sentence, Source
from kbcore.answering.vocabulary import Vocabulary
from kbcore.embedding.base import Vectors

MAX_PROSE = 450  # characters of prose (as read, code aside) an answer stops at
SUPPORT = 2  # sentences that may follow the lead
SUPPORT_MARGIN = 2.0  # log-odds below the lead a supporting sentence may score
SUPPORT_POOL = 4  # the best sentences a supporting one is taken from
FAQ_MATCH = 0.95
FAQ_SENTENCES = 3
LIST_ITEMS = 4  # items that follow a sentence ending in ":" come with it
EVIDENCE = 2  # sections whose best sentence is shown after the answer as evidence
EVIDENCE_MARGIN = 3.0  # log-odds below the lead such a sentence may score
PRICE_SOURCES = 3  # the closest sections a price question's lead may come from
SAME_PASSAGE = 0.8  # word overlap above which two passages say the same thing
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class Draft:
    """An answer before verification: text with markers, the citations they use, and
    evidence shown after it (quotes the text does not repeat)."""

    text: str
    citations: list[Citation]
    mode: str
    evidence: list[Citation] = field(default_factory=list)


@dataclass
class ExtractiveAnswerer:
    """Builds an answer from verbatim sentences of the sources, lead first."""

    scorer: SentenceScorer
    max_prose: int = MAX_PROSE
    support: int = SUPPORT
    support_margin: float = SUPPORT_MARGIN
    support_pool: int = SUPPORT_POOL
    related_only: bool = True
    faq_match: float = FAQ_MATCH
    evidence: int = EVIDENCE
    evidence_margin: float = EVIDENCE_MARGIN

    def draft(
        self,
        focus: str,
        query_vector: Vectors,
        sources: Sequence[Source],
        vocabulary: Vocabulary,
        context: str = "",
        ranked: Sequence[ScoredSentence] | None = None,
        wants_price: bool = False,
    ) -> Draft:
        """Answer ``focus`` (the visitor's words; ``context`` = the question it follows;
        ``ranked``: the sources' sentences already scored, best first; ``wants_price``:
        it asks what something costs, so the lead must state an amount)."""
        scored = (
            list(ranked)
            if ranked
            else self.scorer.score(focus, query_vector, sources, vocabulary, context=context)
        )
        if not scored:
            return Draft("", [], "extractive")
        faq = self._faq_entry(query_vector, scored[0].source)
        if faq:
            # The FAQ entry's own answer leads, whole; the best other sentences may follow.
            scored = faq + [s for s in scored if s.source is not faq[0].source]
        fits = self.scorer.extractor.yes_no_fits(focus, sources, vocabulary, context)
        # A section that opens with "Yes, ..." or "No, ..." answers its own heading's
        # question; when that is not the visitor's, none of it goes into the answer text
        # (its sentences explain that other answer). A card may still show it, under
        # its heading.
        other = {
            s.number
            for s in sources
            if not fits[s.number]
            and s.sentences()
            and sig.YES_NO_ANSWER.match(s.sentences()[0].text)
        }
        in_text = [s for s in scored if s.source.number not in other] or scored
        chosen = self._choose(in_text, vocabulary.floor, wants_price)
        text, citations = _compose(chosen)
        evidence = self._evidence(chosen, scored, vocabulary.floor)
        cited = [s.source.cite(0, s.text) for s in evidence]
        evidence_citations = [replace(c, in_answer=False) for c in cited]
        return Draft(text, citations, "faq" if faq else "extractive", evidence_citations)

    def _evidence(
        self, chosen: list[ScoredSentence], scored: list[ScoredSentence], floor: float | None
    ) -> list[ScoredSentence]:
        """The best sentence of up to ``evidence`` more sections that bear on the question
        and score within ``evidence_margin`` of the lead, saying something the answer
        does not: what a reader checks next when the lead is not what they meant."""
        lead = chosen[0]
        used = {c.source.number for c in chosen}
        out: list[ScoredSentence] = []
        for candidate in scored:
            if len(out) >= self.evidence:
                break
            if lead.score < 10.0 and candidate.score < lead.score - self.evidence_margin:
                break
            if candidate.source.number in used or not can_lead(candidate.sentence):
                continue
            if not self._bears(candidate, floor):
                continue
            if any(_says_the_same(candidate, c) for c in chosen + out):
                continue
            out.append(candidate)
            used.add(candidate.source.number)
        return out

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
        self, scored: list[ScoredSentence], floor: float | None = None, wants_price: bool = False
    ) -> list[ScoredSentence]:
        """The lead, then what it needs (see the module docstring), in answer order. A
        question about a price leads with the best sentence stating an amount in one of
        the three closest sections (the support check refuses a price question when none
        of them states one)."""
        leads = [s for s in scored if can_lead(s.sentence)]
        if wants_price:
            priced = [
                s
                for s in leads
                if s.source.number <= PRICE_SOURCES and sig.MONEY.search(s.sentence.reads_as)
            ]
            leads = priced or leads
        lead = leads[0] if leads else scored[0]
        chosen = [lead, *self._introduced(lead, scored)]
        setting = self._setting_of(lead, scored)
        if setting is not None and all(not _same_sentence(setting, c) for c in chosen):
            chosen.append(setting)
        used = sum(_prose_length(c) for c in chosen)
        faq_lead = lead.score >= 10.0
        extra = FAQ_SENTENCES if faq_lead else 0
        pool = [s for s in scored if s is not lead][: self.support_pool + extra]
        added = 0
        for candidate in pool:
            if added >= self.support or used >= self.max_prose:
                break
            if not faq_lead and candidate.score < lead.score - self.support_margin:
                break
            if any(_same_sentence(candidate, c) for c in chosen):
                continue
            if candidate.sentence.text.rstrip().endswith(":"):
                continue  # it introduces what only the lead may bring
            if candidate.sentence.table_header and candidate.source is not lead.source:
                continue  # another section's table is not what the lead needs
            if not can_lead(candidate.sentence) and candidate.source is not lead.source:
                continue
            if candidate.source is not lead.source and not self._bears(candidate, floor):
                continue
            length = _prose_length(candidate)
            if used + length > self.max_prose:
                continue  # only the lead (and what it brings) may be longer than the budget
            if any(_says_the_same(candidate, c) for c in chosen):
                continue
            chosen.append(candidate)
            used += length
            added += 1
        return chosen

    def _setting_of(
        self, lead: ScoredSentence, scored: list[ScoredSentence]
    ) -> ScoredSentence | None:
        """When the lead's section documents a setting (label lines or table rows: "Type:
        string", "Default: 80 | CLI Override: --print-width"), its best such line: the
        name and value a reader of the description needs. ``None`` when the lead is one."""
        if is_setting_line(lead.sentence):
            return None
        return next(
            (s for s in scored if s.source is lead.source and is_setting_line(s.sentence)),
            None,
        )

    def _bears(self, candidate: ScoredSentence, floor: float | None) -> bool:
        """Whether the candidate's section is itself close enough to the question to have
        answered it (the index's refusal floor)."""
        if floor is None or not self.related_only:
            return True
        return (candidate.source.hit.dense_score or 0.0) >= floor

    def _introduced(
        self, lead: ScoredSentence, scored: list[ScoredSentence]
    ) -> list[ScoredSentence]:
        """A lead ending in ":" that introduces a list (not code) brings its first items."""
        if not lead.sentence.text.rstrip().endswith(":") or lead.sentence.code_follows:
            return []
        index = lead.sentence.index
        return sorted(
            (
                s
                for s in scored
                if s.source is lead.source and index < s.sentence.index <= index + LIST_ITEMS
            ),
            key=lambda s: s.sentence.index,
        )


def is_setting_line(sentence: Sentence) -> bool:
    """A label line ("Default: 5173") or a table's row."""
    return bool(sentence.table_header) or sig.is_label(sentence.text)


def can_lead(sentence: Sentence) -> bool:
    """Whether a sentence can open an answer: not a heading-like fragment, a question of
    its own, or a pointer elsewhere."""
    text = sentence.text.strip()
    return not (sig.is_fragment(text) or text.endswith("?") or sig.SIGNPOST.match(text) is not None)


def _prose_length(item: ScoredSentence) -> int:
    return len(prose_of(item.sentence.text))


def _same_sentence(a: ScoredSentence, b: ScoredSentence) -> bool:
    return a.source.number == b.source.number and a.sentence.offset == b.sentence.offset


def _says_the_same(a: ScoredSentence, b: ScoredSentence) -> bool:
    """Whether two sentences say the same thing (one page repeating another: a CLI page and
    a configuration page documenting the same option)."""
    words_a = set(_WORDS.findall(a.text.lower()))
    words_b = set(_WORDS.findall(b.text.lower()))
    if not words_a or not words_b:
        return False
    return len(words_a & words_b) / min(len(words_a), len(words_b)) >= SAME_PASSAGE


FENCE = "```"


def render(passage: Passage, mark: str, label: str = "", heading: str = "") -> str:
    """How a passage reads in the answer: its lines verbatim, each run of code lines
    between fence lines so it renders as code, a table's header row and the rows under it
    as a Markdown table (``| a | b |``, the separator row after the header), and the
    marker at the end of its prose (before a code block that ends it); ``label`` (the name
    its section documents) comes first as code: ``server.port``: ... Taking the label, the
    markers, the fence lines and the table markup out gives the quote back exactly
    (``citations.answer_is_its_quotes``)."""
    out: list[str] = []
    in_code = False
    table_width = 0
    for line, kind in passage.lines:
        code = kind == "code"
        if code != in_code:
            out.append(FENCE)
            in_code = code
        if kind == "head":
            table_width = len(line.split(" | "))
            out.append(table_line(line))
            out.append(table_separator(table_width))
        elif kind == "row" and table_width and len(line.split(" | ")) == table_width:
            out.append(table_line(line))
        else:
            if table_width and out and out[-1].startswith("|"):
                out.append("")  # a table ends at a blank line
            if kind != "row":
                table_width = 0
            out.append(line)
    if in_code:
        out.append(FENCE)
    first = passage.lines[0][1] if passage.lines else "prose"
    if first in ("head", "row") and out[0].startswith("|"):
        # A passage that opens with a table: its section's heading names it.
        return f"**{heading}**{mark}\n\n" + "\n".join(out)
    text = "\n".join(out)
    if label:
        text = f"`{label}`: {text}"
    block_start = _trailing_block(out)
    if block_start is None:
        return text + mark
    prose = "\n".join(out[:block_start])
    if label:
        prose = f"`{label}`: {prose}"
    gap = "\n\n" if out[block_start].startswith("|") else "\n"
    return prose + mark + gap + "\n".join(out[block_start:])


def _trailing_block(out: list[str]) -> int | None:
    """Where the code block or table that ends rendered lines starts (``None`` when they
    end with prose)."""
    if not out:
        return None
    if out[-1] == FENCE:
        return (
            len(out) - 1 - next(i for i, line in enumerate(reversed(out[:-1])) if line == FENCE) - 1
        )
    if out[-1].startswith("|") and out[-1].endswith("|"):
        index = len(out) - 1
        while index > 0 and out[index - 1].startswith("|") and out[index - 1].endswith("|"):
            index -= 1
        return index
    return None


def table_line(line: str) -> str:
    """A stored table line (cells joined by " | ") as a Markdown table row."""
    return f"| {line} |"


def table_separator(width: int) -> str:
    """The row under a Markdown table's header."""
    return "|" + " --- |" * width


def _compose(chosen: list[ScoredSentence]) -> tuple[str, list[Citation]]:
    """The chosen sentences as passages: adjacent sentences of a section form one run in
    reading order (one citation, its quote their verbatim span, with the code block that
    follows a sentence ending in ":"); the run holding the lead comes first, the others
    in the order they were chosen. The answer is the quotes and their markers, nothing
    else."""
    runs: list[list[ScoredSentence]] = []
    for item in sorted(chosen, key=lambda s: (s.source.number, s.sentence.offset)):
        last = runs[-1][-1] if runs else None
        if last is not None and last.source is item.source and _continues(last, item):
            runs[-1].append(item)
        else:
            runs.append([item])
    rank = {id(item): position for position, item in enumerate(chosen)}
    runs.sort(key=lambda run: min(rank[id(item)] for item in run))
    parts: list[str] = []
    citations: list[Citation] = []
    labelled: set[int] = set()
    for run in runs:
        source = run[0].source
        # Only the lead brings the code block it introduces.
        leads = any(item is chosen[0] for item in run)
        for piece in _passages(source, [item.sentence for item in run], leads):
            citations.append(source.cite(len(citations) + 1, piece.quote))
            label = ""
            if source.number not in labelled and names_identifier(source.hit.heading):
                labelled.add(source.number)
                label = "" if source.hit.heading in piece.quote else source.hit.heading
            parts.append(render(piece, marker(len(citations)), label, source.hit.heading))
    return _join(parts), citations


def _continues(last: ScoredSentence, item: ScoredSentence) -> bool:
    """Whether ``item`` reads on from ``last`` in one passage: the next sentence, or a
    later row of the same table close enough that its quote (which reaches back to the
    header row) would repeat the rows between them."""
    gap = item.sentence.index - last.sentence.index
    if gap == 1:
        return True
    same_table = bool(item.sentence.table_header) and (
        item.sentence.table_header == last.sentence.table_header
    )
    return same_table and 1 < gap <= TABLE_ROWS_ABOVE + 1


def _passages(source: Source, run: list[Sentence], with_code: bool = True) -> list[Passage]:
    """A run of adjacent sentences as the fewest verbatim passages: as far as one stored
    chunk holds it, each (``with_code``) with the code block that follows a sentence
    ending in ":" (a run that crosses a chunk boundary is cut there, not into single
    sentences)."""
    out: list[Passage] = []
    first = 0
    while first < len(run):
        best: Passage | None = None
        last = first
        for end in range(first, len(run)):
            introduces = with_code and run[end].text.rstrip().endswith(":")
            found = source.passage(run[first], run[end], introduces)
            if found is None:
                break
            best, last = found, end
        if best is None:  # no chunk holds the sentence verbatim: quote it as it is
            best = Passage(run[first].text, [(run[first].text, "prose")])
        out.append(best)
        first = last + 1
    return out


def _join(parts: list[str]) -> str:
    """Parts side by side; after a code block the next part starts on a new line."""
    out = ""
    for part in parts:
        if out:
            out += "\n" if out.endswith(FENCE) else "\n\n" if out.endswith("|") else " "
        out += part
    return out
