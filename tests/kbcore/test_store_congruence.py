"""One suite of storage assertions run against both adapters of the port: Qdrant Edge (the
embedded default) and qdrant-client (its local mode standing in for a Qdrant server,
which cannot run here). Both must keep the same versions and return the same ranked ids
for the same queries."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.runner import ingest
from ingest.swap import prune_versions, remove_unfinished, rollback
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.errors import IndexCorruptError, StoreUnavailableError
from kbcore.index_store import CandidateQuery, IndexStore, StoredPoint
from kbcore.retrieval import Retriever
from kbcore.runtime import Runtime
from kbcore.schema import ChunkPayload, IndexManifest, new_version
from kbcore.settings import Settings
from kbcore.sparse import BM25Encoder
from kbcore.store import open_local_qdrant, open_store
from kbcore.stores.edge import EdgeStore
from kbcore.versions import list_versions
from tests.conftest import make_settings

ADAPTERS = ["edge", "qdrant-client"]


def _store(kind: str, folder: Path) -> IndexStore:
    return EdgeStore(folder / "index") if kind == "edge" else open_local_qdrant("kb")


@pytest.fixture(scope="module", params=ADAPTERS)
def indexed(
    request: pytest.FixtureRequest, embedder: OnnxMiniLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runtime]:
    """content/ indexed into each adapter."""
    tmp = tmp_path_factory.mktemp(str(request.param))
    settings = make_settings(tmp, canary_questions=0)
    runtime = Runtime.open(settings, embedder=embedder, store=_store(request.param, tmp))
    assert ingest(runtime).switched
    yield runtime
    runtime.close()


def manifest(chunks: int = 0) -> IndexManifest:
    return IndexManifest(
        embed_model="m", dim=3, sparse_model="s", avgdl=1.0, created_at="", articles=0,
        sections=0, chunks=chunks,
    )  # fmt: skip


def point(number: int, tags: list[str], kind: str = "section") -> StoredPoint:
    dense = [1.0, number / 10, 0.0]
    return StoredPoint(
        id=f"00000000-0000-0000-0000-{number:012d}",
        dense=dense,
        sparse=BM25Encoder().encode_document(f"term{number} shared"),
        payload={"n": number, "tags": tags, "kind": kind, "article": f"a{number}"},
    )


@pytest.mark.parametrize("kind", ADAPTERS)
def test_version_lifecycle(kind: str, tmp_path: Path) -> None:
    store = _store(kind, tmp_path)
    try:
        assert store.serving() is None and store.versions() == []
        first, second = new_version(), new_version()
        store.create(first, manifest())
        store.upsert(first, [point(n, ["x"] if n % 2 else ["y"]) for n in range(1, 7)])
        store.finish(first)
        store.set_manifest(first, manifest(6).model_copy(update={"status": "ready"}))
        store.switch(first)
        assert store.serving() == first and store.count(first) == 6
        assert store.dense_size(first) == 3
        recorded = store.manifest(first)
        assert recorded is not None and recorded.chunks == 6 and recorded.status == "ready"
        # A new version carries chosen points over with new payloads; the base is untouched.
        carry = {point(n, []).id: {"n": n * 100, "tags": ["z"], "kind": "section"} for n in (1, 2)}
        assert store.create(second, manifest(), base=first, carry=carry) == 2
        store.upsert(second, [point(9, ["z"])])
        store.finish(second)
        assert store.count(second) == 3 and store.count(first) == 6
        payloads = dict(store.scroll(second, ["n", "tags"]))
        assert payloads[point(1, []).id] == {"n": 100, "tags": ["z"]}
        assert store.serving() == first  # nothing is served before the switch
        store.set_manifest(second, manifest(3).model_copy(update={"status": "ready"}))
        store.switch(second)
        assert store.serving() == second
        assert [v.version for v in list_versions(store)] == [second, first]
        assert rollback(store).version == first and store.serving() == first
        dead = new_version()
        store.create(dead, manifest())  # never finished: a killed build
        assert remove_unfinished(store) == [dead]
        store.switch(second)
        assert prune_versions(store, keep=1) == [first] and store.versions() == [second]
    finally:
        store.close()


@pytest.mark.parametrize("kind", ADAPTERS)
def test_carrying_most_points_keeps_their_vectors_and_takes_the_new_payloads(
    kind: str, tmp_path: Path
) -> None:
    """A version keeping most of its base (on Edge: the base shard's folder copied) drops
    the points it does not carry and relabels the ones whose payload changed."""
    store = _store(kind, tmp_path)
    try:
        base, edited = new_version(), new_version()
        written = [point(n, ["x"]) for n in range(1, 9)]
        store.create(base, manifest())
        store.upsert(base, written)
        store.finish(base)
        fields = ["n", "tags", "kind", "article"]
        stored = dict(store.scroll(base, fields))
        carry = {p.id: stored[p.id] for p in written[:7]}  # unchanged, but for one:
        carry[written[0].id] = {"n": 1, "tags": ["y"], "kind": "section", "article": "moved"}
        assert store.create(edited, manifest(), base=base, carry=carry) == 7
        store.finish(edited)
        assert store.count(edited) == 7 and store.count(base) == 8
        assert dict(store.scroll(edited, fields)) == carry
        found = store.candidates(edited, CandidateQuery(written[0].dense, None, 3, ("y",)))
        assert [h.id for h in found.dense] == [written[0].id]
    finally:
        store.close()


@pytest.mark.parametrize("kind", ADAPTERS)
def test_candidates_payloads_nearest_and_filters(kind: str, tmp_path: Path) -> None:
    store = _store(kind, tmp_path)
    try:
        version = new_version()
        store.create(version, manifest())
        store.upsert(
            version,
            [point(n, ["x"] if n % 2 else ["y"]) for n in range(1, 7)] + [point(7, [], "question")],
        )
        store.finish(version)
        query = CandidateQuery(
            dense=[1.0, 0.3, 0.0],
            sparse=BM25Encoder().encode_query("term3"),
            limit=3,
            tags=("x",),
        )
        found = store.candidates(version, query)
        odd = {point(n, []).id for n in (1, 3, 5)}
        assert {h.id for h in found.dense} == odd  # the tag filter
        assert [h.id for h in found.sparse] == [point(3, []).id]  # only it has "term3"
        assert [h.score for h in found.dense] == sorted(
            (h.score for h in found.dense), reverse=True
        )
        payloads = store.payloads(
            version, [point(3, []).id, "00000000-0000-0000-0000-999999999999"]
        )
        assert list(payloads) == [point(3, []).id] and payloads[point(3, []).id]["n"] == 3
        nearest = store.nearest(version, [[1.0, 0.7, 0.0]], limit=1, skip_kind="question")
        assert nearest[0][0].id == point(6, []).id  # point 7 is closer but a question
    finally:
        store.close()


def test_both_adapters_rank_the_golden_questions_identically(
    golden: list[dict[str, Any]], embedder: OnnxMiniLM, tmp_path: Path
) -> None:
    runtimes = []
    try:
        for kind in ADAPTERS:
            settings = make_settings(tmp_path / kind, canary_questions=0)
            runtime = Runtime.open(settings, embedder=embedder, store=_store(kind, tmp_path / kind))
            assert ingest(runtime).switched
            runtimes.append(runtime)
        edge, client = runtimes
        compared = 0
        for q in golden:
            vector = embedder.embed_query(q["question"])
            a = edge.retriever.search(q["question"], k=10, query_vector=vector).hits
            b = client.retriever.search(q["question"], k=10, query_vector=vector).hits
            assert _ranking(a) == _ranking(b), q["question"]
            compared += 1
        assert compared == len(golden)
    finally:
        for runtime in runtimes:
            runtime.close()


def _ranking(hits: list[Any]) -> list[tuple[str, str, float]]:
    """Ranked sections with their fused scores (to 5 decimals: engines differ in float
    width, not in rank)."""
    return [(h.article, h.anchor, round(h.score, 5)) for h in hits]


def test_embedded_folder_belongs_to_one_process(tmp_path: Path) -> None:
    first = EdgeStore(tmp_path / "index")
    try:
        with pytest.raises(StoreUnavailableError, match="in use by another process"):
            EdgeStore(tmp_path / "index")
    finally:
        first.close()
    EdgeStore(tmp_path / "index").close()  # released on close


def test_corrupt_index_files_name_the_file_and_the_remedy(
    embedder: OnnxMiniLM, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, canary_questions=0)
    runtime = Runtime.open(settings, embedder=embedder)
    ingest(runtime)
    version = runtime.store.serving()
    runtime.close()
    assert version is not None
    path = settings.embedded_index_path / "versions" / version / "manifest.json"
    path.write_text("{not json")
    store = open_store(settings)
    try:
        with pytest.raises(IndexCorruptError, match=r"manifest\.json.*kb ingest --rebuild"):
            store.manifest(version)
    finally:
        store.close()


def test_index_of_an_earlier_release_is_rebuilt_and_removed(
    embedder: OnnxMiniLM, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings: Settings = make_settings(tmp_path, canary_questions=0)
    legacy = settings.data_dir / "qdrant"
    (legacy / "collection" / "kb__old").mkdir(parents=True)
    (legacy / "meta.json").write_text('{"collections": {}, "aliases": {}}')
    with caplog.at_level("WARNING"):
        runtime = Runtime.open(settings, embedder=embedder)
    assert any("earlier release" in r.message and "rebuilt" in r.message for r in caplog.records)
    assert ingest(runtime).switched
    runtime.close()
    assert legacy.is_dir()  # kept until the new index serves...
    Runtime.open(settings, embedder=embedder).close()
    assert not legacy.exists()  # ...then removed


def test_scratch_runtime_leaves_nothing_behind(embedder: OnnxMiniLM) -> None:
    before = set(Path(tempfile.gettempdir()).glob("kb-index-*"))
    runtime = Runtime.open(make_settings(Path(tempfile.mkdtemp())), scratch=True, embedder=embedder)
    folder = runtime.scratch
    assert folder is not None and folder.is_dir()
    runtime.close()
    assert not folder.exists()
    assert set(Path(tempfile.gettempdir()).glob("kb-index-*")) == before
    shutil.rmtree(runtime.settings.data_dir.parent, ignore_errors=True)


@pytest.mark.slow
def test_both_adapters_rank_a_vaswani_sample_identically(
    embedder: OnnxMiniLM, tmp_path: Path
) -> None:
    """The same vectors (embedded once) in both engines: the same ranked ids."""
    vaswani = pytest.importorskip("bench.vaswani_corpus")
    try:
        corpus = vaswani.load()
    except SystemExit:
        pytest.skip("the Vaswani dataset is not on this machine")
    docs = sorted(corpus.docs.items())[:600]
    encoder = BM25Encoder(avgdl=60.0)
    vectors = embedder.embed_documents([text for _, text in docs])
    points = [
        StoredPoint(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, docno)),
            dense=[float(x) for x in vectors[i].tolist()],
            sparse=encoder.encode_document(text),
            payload=ChunkPayload(
                article=docno,
                title=docno,
                url=f"/learn/{docno}",
                anchor="",
                heading=docno,
                heading_path=docno,
                level=0,
                kind="overview",
                section_index=0,
                chunk_index=0,
                chunk_count=1,
                text=text,
                start=0,
                sentences=[],
                tags=["npl"],
                updated="",
                summary="",
                content_hash="",
                section_hash="",
                path=f"{docno}.md",
                page_url=f"/learn/{docno}",
            ).model_dump(),
        )
        for i, (docno, text) in enumerate(docs)
    ]
    rankings = []
    for kind in ADAPTERS:
        store = _store(kind, tmp_path / kind)
        version = new_version()
        store.create(version, IndexManifest(**{**manifest().model_dump(), "dim": 384}))
        store.upsert(version, points)
        store.finish(version)
        retriever = Retriever(store=store, embedder=embedder, encoder=encoder)
        rankings.append(
            [
                [
                    (hit.article, round(hit.score, 5))
                    for hit in retriever.search(q, k=10, version=version).hits
                ]
                for q in list(corpus.queries.values())[:25]
            ]
        )
        store.close()
    assert rankings[0] == rankings[1]


def test_edge_reads_do_not_queue_behind_the_store_guard(content_runtime: Runtime) -> None:
    """Issue #13, item 10: concurrent reads must not serialise behind one lock. Searches
    finish while another thread holds the store's guard (it only guards opening shards)."""
    import threading

    from kbcore.stores.edge import EdgeStore

    store = content_runtime.store
    assert isinstance(store, EdgeStore)
    content_runtime.retriever.search("warm up")  # the serving shard is open
    done = threading.Event()

    def search() -> None:
        for _ in range(5):
            content_runtime.retriever.search("how much does fine-tuning cost?")
        done.set()

    with store._guard:
        worker = threading.Thread(target=search)
        worker.start()
        assert done.wait(30), "searches waited for the guard"
    worker.join()
