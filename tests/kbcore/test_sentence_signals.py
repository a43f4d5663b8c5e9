"""The question-type signals of the sentence scorer, each on its own: with every sentence
equally similar in meaning (a constant embedder) and covering the same share of the
question's words, the signal alone decides which sentence comes first."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from kbcore.answering.extractive import FILL_FIRST, MAX_CHARS, PER_SECTION, ExtractiveAnswerer
from kbcore.answering.scoring import SentenceScorer, Weights
from kbcore.answering.sources import Source
from kbcore.answering.vocabulary import Vocabulary
from kbcore.embedding.base import Vectors
from kbcore.retrieval import SectionHit
from kbcore.schema import ChunkPayload

DIM = 8
FIRST_SECTION = PER_SECTION + 1


class SameEverywhere:
    """Every text gets the same vector: dense similarity never tells sentences apart."""

    model_id = "same-everywhere"
    dim = DIM

    def _one(self) -> Vectors:
        vector = np.ones(DIM, np.float32)
        normed: Vectors = (vector / np.linalg.norm(vector)).astype(np.float32)
        return normed

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self._one() for _ in texts])

    def embed_query(self, text: str) -> Vectors:
        return self._one()

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.embed_documents(texts)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def section(*sentences: str) -> Source:
    """One retrieved section holding ``sentences``, one stored chunk."""
    text = " ".join(sentences)
    spans, start = [], 0
    for sentence in sentences:
        spans.append((start, start + len(sentence)))
        start += len(sentence) + 1
    chunk = ChunkPayload(
        article="options",
        title="Options",
        url="/options#settings",
        anchor="settings",
        heading="Settings",
        heading_path="Options > Settings",
        level=2,
        kind="section",
        section_index=0,
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
        url="/options#settings",
        anchor="settings",
        heading="Settings",
        heading_path="Options > Settings",
        kind="section",
        path="options.md",
        page_url="/options",
        score=1.0,
        dense_score=0.5,
        sparse_score=1.0,
        chunks=[chunk],
    )
    return Source(number=1, hit=hit, chunks=[chunk])


def best(question: str, source: Source, weights: Weights) -> str:
    embedder = SameEverywhere()
    scorer = SentenceScorer(embedder, weights=weights)
    vocabulary = Vocabulary(documents=10, frequencies=Counter())
    scored = scorer.score(question, embedder.embed_query(question), [source], vocabulary)
    return scored[0].text


@pytest.mark.parametrize(
    ("question", "answer", "other", "signal"),
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
    ],
)
def test_a_question_type_signal_lifts_the_sentence_that_answers(
    question: str, answer: str, other: str, signal: str
) -> None:
    source = section(other, answer)  # the answer second: the lead sentence may not win it
    assert best(question, source, Weights()) == answer
    # without the signal the other sentence is at least as good: the signal decided
    assert best(question, section(other, answer), replace(Weights(), **{signal: 0.0})) == other


@pytest.mark.parametrize(
    ("question", "definition"),
    [
        ("What is chain of thought?", "Chain-of-thought prompting is asking for the steps."),
        ("what's a reranker", "A reranker reorders the candidates by relevance."),
    ],
)
def test_a_definition_is_found_whatever_its_hyphens_and_article(
    question: str, definition: str
) -> None:
    other = "Chain of thought and reranking both cost extra tokens."
    assert best(question, section(other, definition), Weights()) == definition


def test_a_definition_with_quotes_and_a_relative_clause_is_found_after_a_colon() -> None:
    question = "what exactly is the 'core schema' that the guide keeps mentioning?"
    other = "The guide keeps mentioning the core schema in every chapter."
    definition = "The guide relies on a core schema: a dictionary that describes validation."
    source = section(other, definition)
    assert best(question, source, Weights()) == definition
    assert best(question, source, replace(Weights(), definition=0.0)) == other


def _chosen(sentences: list[str]) -> list[str]:
    embedder = SameEverywhere()
    answerer = ExtractiveAnswerer(SentenceScorer(embedder))
    vocabulary = Vocabulary(documents=10, frequencies=Counter())
    source = section(*sentences)
    scored = answerer.scorer.score(
        "which values can the option take?", embedder.embed_query(""), [source], vocabulary
    )
    return [s.text for s in answerer._choose(scored)]


def test_short_sentences_fill_the_room_a_sentence_count_would_leave() -> None:
    rows = [f"Value {n}: the option takes value {n}." for n in range(12)]
    chosen = _chosen(rows)
    assert FIRST_SECTION < len(chosen) <= FILL_FIRST  # more than the count, up to the fill
    assert sum(len(text) for text in chosen[:-1]) < MAX_CHARS


def test_long_sentences_stop_at_the_character_budget() -> None:
    long = [f"Value {n}: the option takes value {n}, " + "and more words " * 20 for n in range(12)]
    chosen = _chosen(long)
    assert len(chosen) < FIRST_SECTION + 1 and sum(len(t) for t in chosen[:-1]) < MAX_CHARS
