"""Chunks are verbatim slices of section text under the model's token cap."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from ingest.articles import load_article
from ingest.chunking import ChunkingConfig, chunk_article
from ingest.sentences import SentenceSplitter
from kbcore.embedding.onnx_minilm import OnnxMiniLM


@pytest.fixture(scope="module")
def splitter() -> SentenceSplitter:
    return SentenceSplitter()


def _article(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "long-read.md"
    front = (
        "---\ntitle: Long Read\nslug: long-read\nsummary: S.\ntags: [rag]\nupdated: 2026-01-01\n"
    )
    path.write_text(front + "questions:\n  - How long is it?\n---\n" + body)
    return path


def test_long_section_splits_on_sentences_under_the_cap_with_overlap(
    tmp_path: Path, embedder: OnnxMiniLM, splitter: SentenceSplitter
) -> None:
    sentences = [
        f"Sentence number {i} explains one idea about retrieval quality." for i in range(80)
    ]
    article = load_article(_article(tmp_path, "## Big section\n\n" + " ".join(sentences)))
    assert article is not None
    config = ChunkingConfig(max_tokens=96, overlap_tokens=20)
    chunks = [
        c
        for c in chunk_article(article, splitter, embedder.count_tokens, config)
        if c.payload.kind == "section"
    ]
    assert len(chunks) > 5
    section_text = article.sections[1].text
    for chunk in chunks:
        p = chunk.payload
        assert embedder.count_tokens(chunk.embed_text) <= config.max_tokens
        # Stored text is a verbatim slice of the section; the heading path is only embedded.
        assert section_text[p.start : p.start + len(p.text)] == p.text
        assert chunk.embed_text == f"Long Read > Big section\n{p.text}"
        assert not p.text.startswith("Long Read")
        assert p.text.endswith(".") and p.text[0].isupper()  # whole sentences
        for a, b in p.sentences:
            assert p.text[a:b].startswith("Sentence number")
    for first, second in itertools.pairwise(chunks):
        last_sentence = first.payload.text.split(". ")[-1]
        assert last_sentence.rstrip(".") in second.payload.text  # overlap


def test_ids_are_stable_and_change_only_with_content(
    tmp_path: Path, embedder: OnnxMiniLM, splitter: SentenceSplitter
) -> None:
    body = "Intro.\n\n## One\n\nAlpha text.\n\n## Two\n\nBeta text.\n"
    config = ChunkingConfig()
    first = chunk_article(
        load_article(_article(tmp_path, body)), splitter, embedder.count_tokens, config
    )  # type: ignore[arg-type]
    again = chunk_article(
        load_article(_article(tmp_path, body)), splitter, embedder.count_tokens, config
    )  # type: ignore[arg-type]
    assert [c.id for c in first] == [c.id for c in again]
    edited = chunk_article(
        load_article(_article(tmp_path, body.replace("Beta", "Gamma"))),  # type: ignore[arg-type]
        splitter,
        embedder.count_tokens,
        config,
    )
    changed = {c.id for c in edited} ^ {c.id for c in first}
    assert len(changed) == 2  # only section "two": its old id out, its new id in


def test_front_matter_questions_become_points_of_the_overview(
    tmp_path: Path, embedder: OnnxMiniLM, splitter: SentenceSplitter
) -> None:
    article = load_article(_article(tmp_path, "Intro text.\n\n## A\n\nB.\n"))
    chunks = chunk_article(article, splitter, embedder.count_tokens, ChunkingConfig())  # type: ignore[arg-type]
    questions = [c for c in chunks if c.payload.kind == "question"]
    assert [q.payload.text for q in questions] == ["How long is it?"]
    assert questions[0].payload.url == "/learn/long-read"
    head = chunks[0].payload
    assert head.outline is not None and [o.anchor for o in head.outline] == ["a"]


def test_five_megabyte_file_indexes_in_bounded_chunks(
    tmp_path: Path, embedder: OnnxMiniLM, splitter: SentenceSplitter
) -> None:
    paragraph = "Retrieval quality depends on chunking, embeddings and fusion of signals. " * 12
    block = "\n\n".join(f"## Part {i}\n\n{paragraph}" for i in range(40))
    body = ""
    while len(body) < 5 * 1024 * 1024:
        body += block + "\n\n"
    body += "## Tail\n\n" + "x" * 5000 + "\n"  # one "word" far over the cap
    article = load_article(_article(tmp_path, body))
    assert article is not None
    chunks = chunk_article(article, splitter, embedder.count_tokens, ChunkingConfig())
    assert len(chunks) > 1000
    assert max(embedder.count_tokens(c.embed_text) for c in chunks) <= 256
    tail = [c for c in chunks if c.payload.heading == "Tail"]
    assert sum(len(c.payload.text) for c in tail) == 5000
