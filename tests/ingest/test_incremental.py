"""Incremental, atomic, recoverable rebuilds against real embedded Qdrant."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from ingest.build import BuildOptions, Indexer
from ingest.canary import Canary, CanaryValidator
from ingest.runner import ingest
from ingest.swap import rollback
from kbcore.embedding.base import Vectors
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.errors import EmbedderError, IndexValidationError
from kbcore.runtime import Runtime
from kbcore.schema import IndexManifest, new_version
from kbcore.versions import list_versions
from tests.conftest import make_settings
from tests.ingest.test_build import write


class CountingEmbedder:
    """The real model, counting the passages it is asked to embed (and able to fail)."""

    def __init__(self, inner: OnnxMiniLM) -> None:
        self.inner = inner
        self.embedded = 0
        self.fail_after: int | None = None

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_query(self, text: str) -> Vectors:
        return self.inner.embed_query(text)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed_queries(texts)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if self.fail_after is not None and self.embedded + len(texts) > self.fail_after:
            raise EmbedderError("simulated embedder outage")
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)


@pytest.fixture()
def site(tmp_path: Path, embedder: OnnxMiniLM) -> tuple[Path, Runtime, CountingEmbedder, Indexer]:
    content = tmp_path / "content"
    write(content, "alpha", first="Chunking splits long documents into passages.")
    write(content, "beta", first="Embeddings map text to vectors for similarity search.")
    write(content, "gamma", first="Reranking reorders candidates with a cross-encoder.")
    counting = CountingEmbedder(embedder)
    runtime = Runtime.open(
        make_settings(tmp_path, content_dir=content), scratch=True, embedder=counting
    )
    indexer = Indexer(store=runtime.store, embedder=counting)
    return content, runtime, counting, indexer


def point_ids(runtime: Runtime) -> set[str]:
    return {point_id for point_id, _ in runtime.store.scroll(runtime.retriever.resolve(), [])}


def top_texts(runtime: Runtime, query: str) -> str:
    return " ".join(h.text for h in runtime.retriever.search(query, k=10).hits)


def test_edit_reembeds_only_the_changed_section(
    site: tuple[Path, Runtime, CountingEmbedder, Indexer],
) -> None:
    content, runtime, counting, indexer = site
    first = indexer.run(content)
    before_ids = point_ids(runtime)
    counting.embedded = 0
    write(content, "alpha", first="Chunking now splits documents at Markdown headings.")
    report = indexer.run(content)
    assert counting.embedded == report.embedded == 1
    assert report.deleted == 1 and report.switched
    assert report.diff == {"alpha": {"added": [], "changed": ["first-topic"], "removed": []}}
    after_ids = point_ids(runtime)
    assert len(before_ids - after_ids) == 1 and len(after_ids - before_ids) == 1
    assert "long documents into passages" not in top_texts(runtime, "chunking passages")
    assert "Markdown headings" in top_texts(runtime, "chunking headings")
    assert report.index_version != first.index_version


def test_add_delete_and_rename_articles(
    site: tuple[Path, Runtime, CountingEmbedder, Indexer],
) -> None:
    content, runtime, counting, indexer = site
    indexer.run(content)
    # Add.
    counting.embedded = 0
    write(content, "delta", first="Hybrid search fuses BM25 and dense results.")
    added = indexer.run(content)
    assert counting.embedded == added.embedded == 3  # overview + two sections
    assert added.diff["delta"]["added"] == ["(overview)", "first-topic", "second-topic"]
    # Delete.
    counting.embedded = 0
    (content / "gamma.md").unlink()
    deleted = indexer.run(content)
    assert counting.embedded == 0 and deleted.deleted == 3
    assert "cross-encoder" not in top_texts(runtime, "reranking cross-encoder")
    # Rename (slug and file): the old article leaves no chunk behind.
    counting.embedded = 0
    (content / "beta.md").unlink()
    write(content, "beta-renamed", first="Embeddings map text to vectors for similarity search.")
    renamed = indexer.run(content)
    assert renamed.embedded == 3 and renamed.deleted == 3
    articles = {h.article for h in runtime.retriever.search("vectors similarity", k=10).hits}
    assert "beta-renamed" in articles and "beta" not in articles


def test_renamed_heading_leaves_no_stale_section(
    site: tuple[Path, Runtime, CountingEmbedder, Indexer],
) -> None:
    content, runtime, _, indexer = site
    indexer.run(content)
    path = content / "alpha.md"
    path.write_text(path.read_text().replace("## First topic", "## Splitting strategy"))
    report = indexer.run(content)
    assert report.diff["alpha"] == {
        "added": ["splitting-strategy"],
        "changed": [],
        "removed": ["first-topic"],
    }
    anchors = {
        h.anchor for h in runtime.retriever.search("chunking", k=10).hits if h.article == "alpha"
    }
    assert "first-topic" not in anchors and "splitting-strategy" in anchors


def test_dry_run_reports_without_writing(
    site: tuple[Path, Runtime, CountingEmbedder, Indexer],
) -> None:
    content, runtime, counting, indexer = site
    first = indexer.run(content)
    counting.embedded = 0
    write(content, "alpha", first="Something else entirely.")
    dry = indexer.run(content, BuildOptions(dry_run=True))
    assert dry.diff == {"alpha": {"added": [], "changed": ["first-topic"], "removed": []}}
    assert counting.embedded == 0 and not dry.switched
    assert runtime.retriever.resolve().endswith(first.index_version)
    assert len(list_versions(runtime.store)) == 1


def test_failed_build_keeps_serving_the_old_version(
    site: tuple[Path, Runtime, CountingEmbedder, Indexer],
) -> None:
    content, runtime, counting, indexer = site
    first = indexer.run(content)
    before = top_texts(runtime, "chunking passages")
    write(content, "alpha", first="A changed first topic.")
    write(content, "delta", first="A new article.")
    counting.fail_after = counting.embedded + 1
    with pytest.raises(EmbedderError):
        indexer.run(content)
    assert runtime.store.serving() == first.index_version
    assert [v.version for v in list_versions(runtime.store)] == [first.index_version]
    assert top_texts(runtime, "chunking passages") == before
    counting.fail_after = None
    assert indexer.run(content).switched


def test_leftover_of_a_killed_build_is_removed_by_the_next_run(
    site: tuple[Path, Runtime, CountingEmbedder, Indexer],
) -> None:
    content, runtime, _, indexer = site
    first = indexer.run(content)
    leftover = new_version()
    manifest = IndexManifest(
        embed_model="x",
        dim=384,
        sparse_model="y",
        avgdl=1,
        created_at="",
        articles=0,
        sections=0,
        chunks=0,
    )
    runtime.store.create(leftover, manifest)  # status "building": a dead build
    assert len(list_versions(runtime.store)) == 2
    again = indexer.run(content)
    assert not again.switched and again.index_version == first.index_version
    assert [v.version for v in list_versions(runtime.store)] == [first.index_version]


def test_versions_are_pruned_and_rollback_restores_answers(
    site: tuple[Path, Runtime, CountingEmbedder, Indexer],
) -> None:
    content, runtime, _, indexer = site
    v1 = indexer.run(content)
    before = top_texts(runtime, "chunking passages")
    write(content, "alpha", first="Chunking version two uses headings.")
    v2 = indexer.run(content, BuildOptions(keep_versions=2))
    write(content, "alpha", first="Chunking version three uses sentences.")
    v3 = indexer.run(content, BuildOptions(keep_versions=2))
    versions = [v.version for v in list_versions(runtime.store)]
    assert versions == [v3.index_version, v2.index_version]  # v1 pruned
    restored = rollback(runtime.store)
    assert restored.version == v2.index_version
    assert "version two" in top_texts(runtime, "chunking headings")
    assert before != top_texts(runtime, "chunking passages")
    assert v1.index_version not in versions


def test_failing_canary_blocks_the_switch(
    site: tuple[Path, Runtime, CountingEmbedder, Indexer],
) -> None:
    content, runtime, counting, _ = site
    canary = CanaryValidator([Canary("cross-encoder reranking", "gamma")], counting, 1)
    indexer = Indexer(store=runtime.store, embedder=counting, validators=[canary])
    first = indexer.run(content)
    write(content, "gamma", first="Bananas are yellow fruit.", title="Fruit")
    with pytest.raises(IndexValidationError, match="canary"):
        indexer.run(content)
    assert runtime.retriever.resolve().endswith(first.index_version)


def test_untouched_docs_are_recognised_without_parsing(
    site: tuple[Path, Runtime, CountingEmbedder, Indexer],
) -> None:
    content, runtime, _, indexer = site
    first = indexer.run(content)
    path = content / "alpha.md"
    stat = path.stat()
    original = path.read_text()
    # Same size and modification time: the run trusts the stamp and reads nothing.
    disguised = original.replace("passages", "pazzages")
    assert len(disguised.encode()) == stat.st_size
    path.write_text(disguised)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = indexer.run(content)
    assert not again.switched and again.index_version == first.index_version
    assert again.articles == first.articles and again.chunks == first.chunks
    # A touched file is read again (nothing changed in it: the stamp is renewed).
    path.write_text(original)
    touched = indexer.run(content)
    assert not touched.switched and touched.embedded == 0
    manifest = runtime.store.manifest(first.index_version)
    assert manifest is not None
    assert indexer.run(content).index_version == first.index_version


def test_a_changed_include_reindexes_the_page_that_includes_it(
    tmp_path: Path, embedder: OnnxMiniLM
) -> None:
    root = tmp_path / "site"
    (root / "docs").mkdir(parents=True)
    (root / "snippets").mkdir()
    (root / "snippets" / "note.md").write_text("Widgets are thread-safe.\n")
    (root / "docs" / "page.md").write_text('# Page\n\nIntro.\n\n--8<-- "snippets/note.md"\n')
    settings = make_settings(tmp_path, content_dir=root / "docs", docs_root=root)
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)
    try:
        first = ingest(runtime)
        assert "thread-safe" in top_texts(runtime, "are widgets thread safe")
        assert not ingest(runtime).switched
        (root / "snippets" / "note.md").write_text("Widgets are fire-proof and waterproof.\n")
        second = ingest(runtime)
        assert second.switched and second.index_version != first.index_version
        assert "fire-proof" in top_texts(runtime, "are widgets fire proof")
    finally:
        runtime.close()
