"""The sentence ranker's parts, each on its own: the question-type features fire on the
sentence that gives what the question asks for, the shipped ranker reads only the
features this release computes, the listwise fit learns what decides, the answerability
gate keeps false refusals under its target, and an answer leads with its best sentence,
short, each passage once, a heading-like fragment never first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest

from kbcli.ranker_training import GateRow, QuestionRows, fit, fit_gate, top1
from kbcore.answering.answerability import ANSWERABILITY_FEATURES, AnswerabilityGate
from kbcore.answering.citations import answer_is_its_quotes, verify
from kbcore.answering.extractive import MAX_PROSE, ExtractiveAnswerer, _compose
from kbcore.answering.features import FEATURES, FeatureExtractor, focus_of
from kbcore.answering.ranker import LinearRanker, shipped_ranker
from kbcore.answering.reading import as_read, prose_of, read_first
from kbcore.answering.scoring import ScoredSentence, SentenceScorer
from kbcore.answering.sources import Source
from kbcore.answering.vocabulary import Vocabulary
from kbcore.embedding.base import Vectors
from kbcore.errors import KBError
from kbcore.retrieval import SectionHit
from kbcore.schema import ChunkPayload
from kbcore.sparse import BM25Encoder

DIM = 8


class SameEverywhere:
    """Every text gets the same vector: dense similarity never tells sentences apart."""

    model_id = "same-everywhere"
    dim = DIM

    def _one(self) -> Vectors:
        vector = np.ones(DIM, np.float32)
        normed: Vectors = (vector / np.linalg.norm(vector)).astype(np.float32)
        return normed

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self._one() for _ in texts]) if texts else np.zeros((0, DIM))

    def embed_query(self, text: str) -> Vectors:
        return self._one()

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embed_documents(texts)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def section(*sentences: str, heading: str = "Settings", number: int = 1) -> Source:
    """One retrieved section holding ``sentences``, one stored chunk."""
    text = " ".join(sentences)
    spans, start = [], 0
    for sentence in sentences:
        spans.append((start, start + len(sentence)))
        start += len(sentence) + 1
    anchor = heading.lower().replace(" ", "-")
    chunk = ChunkPayload(
        article="options",
        title="Options",
        url=f"/options#{anchor}",
        anchor=anchor,
        heading=heading,
        heading_path=f"Options > {heading}",
        level=2,
        kind="section",
        section_index=number,
        chunk_index=0,
        chunk_count=1,
        text=text,
        start=0,
        sentences=spans,
        tags=[],
        updated="",
        summary="",
        content_hash="c",
        section_hash="s",
        path="options.md",
        page_url="/options",
    )
    hit = SectionHit(
        article="options",
        title="Options",
        url=f"/options#{anchor}",
        anchor=anchor,
        heading=heading,
        heading_path=f"Options > {heading}",
        kind="section",
        path="options.md",
        page_url="/options",
        score=1.0,
        dense_score=0.5,
        sparse_score=1.0,
        chunks=[chunk],
    )
    return Source(number=number, hit=hit, chunks=[chunk])


def feature_rows(question: str, *sources: Source) -> tuple[list[str], np.ndarray]:
    embedder = SameEverywhere()
    extractor = FeatureExtractor(BM25Encoder())
    vocabulary = Vocabulary(documents=10, frequencies=Counter())
    candidates, rows = extractor.extract(
        question,
        embedder.embed_query(question),
        list(sources),
        vocabulary,
        embedder.embed_documents,
    )
    return [c.sentence.text for c in candidates], rows


@pytest.mark.parametrize(
    ("question", "answer", "other", "feature"),
    [
        (
            "what is the default wrap width?",
            "Default: 80 characters for the wrap width.",
            "The wrap width can be changed from its default per file.",
            "default",
        ),
        (
            "why is the cache slow to update?",
            "The cache is rebuilt hourly because the update runs as a batch job.",
            "The cache is refreshed by an update job every hour.",
            "reason",
        ),
        (
            "does the browser build read config files?",
            "The browser build never reads config files from disk.",
            "The browser build reads config files from the page.",
            "polar",
        ),
        (
            "zero shot vs few shot prompts?",
            "The difference is how many examples the few shot prompts carry.",
            "Few shot prompts carry examples, and zero shot prompts are short.",
            "contrast",
        ),
        (
            "writing a plugin: how do I see the errors?",
            "Set the DEBUG variable to print the errors of the plugin.",
            "The plugin catches the errors and prints the node normally.",
            "means",
        ),
        (
            "What is chain of thought?",
            "Chain-of-thought prompting is asking for the steps.",
            "Chain of thought and reranking both cost extra tokens.",
            "definition",
        ),
        (
            "what exactly is the 'core schema' that the guide keeps mentioning?",
            "The guide relies on a core schema: a dictionary that describes validation.",
            "The guide keeps mentioning the core schema in every chapter.",
            "definition",
        ),
    ],
)
def test_a_question_type_feature_fires_on_the_sentence_that_gives_it(
    question: str, answer: str, other: str, feature: str
) -> None:
    texts, rows = feature_rows(question, section(other, answer))
    column = FEATURES.index(feature)
    assert rows[texts.index(answer), column] == 1.0
    assert rows[texts.index(other), column] == 0.0


def test_labels_fragments_and_the_asking_part_are_told_apart() -> None:
    texts, rows = feature_rows(
        "My site has 2000 posts and builds take minutes. How do I build only what changed?",
        section("Type: boolean", "Incremental builds", "Run the build with --incremental."),
    )
    label, fragment = FEATURES.index("label"), FEATURES.index("fragment")
    assert rows[texts.index("Type: boolean"), label] == 1.0
    assert rows[texts.index("Incremental builds"), fragment] == 1.0
    assert rows[texts.index("Run the build with --incremental."), label] == 0.0
    assert focus_of("My site has 2000 posts. How do I build only what changed?") == (
        "How do I build only what changed?"
    )


def test_the_shipped_ranker_reads_exactly_this_releases_features() -> None:
    ranker = shipped_ranker()
    assert ranker.features == FEATURES and len(ranker.coef) == len(FEATURES)
    assert len(ranker.fitted_on) >= 3  # fitted on several docs trees, not one
    stale = {**ranker.to_json(), "features": [*FEATURES[:-1], "something_else"]}
    with pytest.raises(KBError, match="refit"):
        LinearRanker.from_json(stale)


def _questions(rng: np.random.Generator, n: int) -> list[QuestionRows]:
    """Synthetic questions whose positive is the candidate highest in column 0."""
    out = []
    for i in range(n):
        rows = rng.normal(size=(12, len(FEATURES)))
        positive = rows[:, 0] == rows[:, 0].max()
        out.append(QuestionRows("synthetic", f"q{i}", rows, positive))
    return out


def test_the_listwise_fit_learns_what_decides() -> None:
    rng = np.random.default_rng(7)
    train, test = _questions(rng, 300), _questions(rng, 40)
    ranker = fit(train)
    assert top1(ranker, test) >= 0.8
    assert top1(LinearRanker.neutral(), test) < 0.5  # ties: the first candidate
    assert int(np.argmax(np.abs(ranker.coef))) == 0


def test_the_gate_threshold_keeps_false_refusals_under_its_target() -> None:
    rng = np.random.default_rng(3)
    n = len(ANSWERABILITY_FEATURES)

    def rows(answerable: bool, count: int) -> list[GateRow]:
        centre = 1.0 if answerable else -1.0
        return [
            GateRow("synthetic", f"{answerable}{i}", rng.normal(centre, 1.0, size=n), answerable)
            for i in range(count)
        ]

    training = rows(True, 200) + rows(False, 60)
    gate = fit_gate(training, target=0.05)
    refused = [not gate.answers(r.features) for r in training if r.answerable]
    assert sum(refused) / len(refused) <= 0.05
    caught = [not gate.answers(r.features) for r in training if not r.answerable]
    assert sum(caught) / len(caught) > 0.3  # it does refuse something
    assert AnswerabilityGate.open_gate().answers(training[-1].features)


def _answer(sources: list[Source], question: str) -> tuple[str, list[str]]:
    embedder = SameEverywhere()
    answerer = ExtractiveAnswerer(SentenceScorer(embedder))
    vocabulary = Vocabulary(documents=10, frequencies=Counter())
    draft = answerer.draft(question, embedder.embed_query(question), sources, vocabulary)
    by_key = {(s.hit.article, s.hit.anchor): s for s in sources}
    text, citations = verify(draft.text, draft.citations, by_key)
    assert answer_is_its_quotes(text, citations), text
    return text, [c.quote for c in citations]


def test_an_answer_leads_short_and_never_with_a_fragment() -> None:
    filler = [f"The option also affects case number {n} in some way or other." for n in range(9)]
    source = section("Wrap width", *filler, "Lines wrap at the wrap width.")
    text, _ = _answer([source], "where do lines wrap?")
    assert not as_read(text).startswith("Wrap width")
    assert len(prose_of(text)) <= MAX_PROSE
    assert "Lines wrap at the wrap width." in read_first(text, 300)


def test_a_passage_two_pages_repeat_appears_once() -> None:
    same = "Use --cache to only format changed files."
    a = section(same, "It stores a cache file.", heading="Cache", number=1)
    b = section(same, "Other text about flags.", heading="CLI", number=2)
    text, _ = _answer([a, b], "how do I only format changed files with --cache?")
    assert as_read(text).count(same) == 1, text


def test_a_section_named_after_an_option_leads_with_its_name() -> None:
    source = section("The port the dev server listens on.", "Default: 5173", heading="server.port")
    scored = [
        ScoredSentence(source, sentence, 1.0 - 0.1 * i, 0.5, 0.5)
        for i, sentence in enumerate(source.sentences())
    ]
    text, citations = _compose(scored)
    assert text.startswith("`server.port`: The port the dev server listens on.")
    final, verified = verify(text, citations, {(source.hit.article, source.hit.anchor): source})
    assert answer_is_its_quotes(final, verified)
    assert not answer_is_its_quotes(final.replace("server.port", "server.host"), verified)


def test_a_quoted_table_row_comes_under_its_header_row_as_a_table() -> None:
    text = "Each task:\nTask | Helps?\nArithmetic | Yes\nLookups | No\nSorting | Sometimes"
    position, spans, tables = 0, [], []
    for number, line in enumerate(text.split("\n")):
        if number != 1:  # the header row is no sentence
            spans.append((position, position + len(line)))
        if number >= 1:
            tables.append((position, position + len(line)))
        position += len(line) + 1
    source = section("x")
    chunk = source.chunks[0].model_copy(update={"text": text, "sentences": spans, "tables": tables})
    source = Source(number=1, hit=source.hit, chunks=[chunk])
    row = next(s for s in source.sentences() if s.text == "Lookups | No")
    assert row.table_header == "Task | Helps?"
    assert row.reads_as == "Task: Lookups | Helps?: No"
    drafted, drafted_citations = _compose([ScoredSentence(source, row, 1.0, 0.5, 0.5)])
    key = (source.hit.article, source.hit.anchor)
    text_out, citations = verify(drafted, drafted_citations, {key: source})
    assert "| Task | Helps? |\n| --- | --- |\n| Arithmetic | Yes |\n| Lookups | No |" in text_out
    assert citations[0].quote == "Task | Helps?\nArithmetic | Yes\nLookups | No"
    assert answer_is_its_quotes(text_out, citations), text_out
    broken = text_out.replace("| Lookups | No |", "| Lookups | Yes |")
    assert not answer_is_its_quotes(broken, citations)


def test_a_yes_or_no_to_another_headings_question_never_opens_the_answer() -> None:
    other = section(
        "Yes, caching can slow the first build down.",
        "It writes every file once.",
        heading="Can caching slow builds down?",
        number=1,
    )
    own = section(
        "Caching does not always speed builds up.",
        heading="Does caching speed builds up?",
        number=2,
    )
    text, _ = _answer([other, own], "does caching speed up builds?")
    assert as_read(text).startswith("Caching does not always speed builds up."), text
    assert "Yes, caching" not in text and "It writes every file once." not in text
    # Asked its own question, the section answers with its "Yes".
    text, _ = _answer([other, own], "can caching slow builds down?")
    assert as_read(text).startswith("Yes, caching can slow the first build down."), text
