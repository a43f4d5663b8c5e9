"""The Qdrant Edge adapter of the storage port: Qdrant's own engine in-process, the
embedded default (``qdrant-edge-py``, pinned: it is beta and its API moves; nothing
outside this module imports it).

Layout under the store's folder (``KB_DATA_DIR/index``)::

    SERVING                  the serving version's id (replaced atomically on switch)
    .lock                    held by the one process that owns the folder
    versions/<version>/
        manifest.json        what built the version
        shard/               its Edge shard (one per version; Edge has no collections)

A new version that keeps most of the serving one's points starts as a copy of the
serving shard's directory (published shards are flushed and never written again), then
loses the points that changed; one that keeps few starts empty and has the kept points
copied in. Shards past ``HNSW_POINTS`` get an HNSW index before they are published;
below that brute force is faster than the graph and exact.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    MatchAny,
    MatchValue,
    Modifier,
    MultiVectorComparator,
    MultiVectorConfig,
    Point,
    Query,
    QueryBatchRequest,
    QueryRequest,
    ScrollRequest,
    UpdateOperation,
    VectorStorageDatatype,
)
from qdrant_edge import SparseVector as EdgeSparse

from kbcore.errors import IndexCorruptError, IndexValidationError, StoreUnavailableError
from kbcore.index_store import (
    TIE_MARGIN,
    CandidateQuery,
    Candidates,
    Matrix,
    ScoredHit,
    StoredPoint,
    sentence_matrix,
    settle_ties,
)
from kbcore.schema import DENSE_VECTOR, SENTENCE_VECTORS, SPARSE_VECTOR, IndexManifest

log = logging.getLogger(__name__)
PointId = int | uuid.UUID | str

POINTER = "SERVING"
MANIFEST = "manifest.json"
WRITE_BATCH = 512
# Keep at least this share of the base's points and the new version starts as a copy of
# the base's directory (far cheaper than copying point by point).
CLONE_SHARE = 0.5
# From this many points on, a shard gets an HNSW index before it is published (measured
# with bench/store.py: below it an exact scan answers within a few milliseconds).
HNSW_POINTS = 20_000


def _read_through(folder: Path) -> None:
    """Read every file of a shard once, so that its first queries do not pay for bringing
    it into memory (measured at 50,000 points: the first pass over new queries took 5.6 ms
    p50 without this and 2.7 ms with it, the same as later passes; reading 313 MB already
    in the page cache takes under 0.1 s)."""
    buffer = bytearray(1 << 20)
    for path in sorted(folder.rglob("*")):
        with contextlib.suppress(OSError):
            if path.is_file():
                with path.open("rb", buffering=0) as handle:
                    while handle.readinto(buffer):
                        pass


def _uuid(point_id: Any) -> str:
    return str(point_id)


def _vectors(point: StoredPoint) -> dict[str, Any]:
    """A point's named vectors as Edge takes them."""
    vectors: dict[str, Any] = {
        DENSE_VECTOR: point.dense,
        SPARSE_VECTOR: EdgeSparse(indices=point.sparse.indices, values=point.sparse.values),
    }
    if point.sentences:
        vectors[SENTENCE_VECTORS] = point.sentences
    return vectors


def _tag_filter(tags: Sequence[str]) -> Filter | None:
    if not tags:
        return None
    return Filter(must=[FieldCondition(key="tags", match=MatchAny(any=list(tags)))])


def _atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a reader sees the old or the new)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class EdgeStore:
    """Index versions as Edge shard directories (see the module docstring)."""

    def __init__(self, root: Path, *, hnsw_points: int = HNSW_POINTS) -> None:
        self.root = root
        self.hnsw_points = hnsw_points
        (root / "versions").mkdir(parents=True, exist_ok=True)
        self._lock_file = self._take_lock()
        self._shards: dict[str, EdgeShard] = {}
        self._guard = threading.RLock()

    def _take_lock(self) -> TextIO:
        handle = (self.root / ".lock").open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise StoreUnavailableError(
                f"the embedded index in {self.root} is in use by another process (probably "
                "`kb serve`); one process owns a data folder at a time. `kb ingest`, `kb "
                "search`, `kb ask` and `kb index list` use a running `kb serve` of this data "
                "folder by themselves; stop it for anything else."
            ) from exc
        return handle

    @property
    def exclusive(self) -> bool:
        return True

    # --- layout --------------------------------------------------------------------------

    def _dir(self, version: str) -> Path:
        if not version or "/" in version or version.startswith("."):
            raise IndexValidationError(f"not an index version: {version!r}")
        return self.root / "versions" / version

    def _shard(self, version: str) -> EdgeShard:
        shard = self._shards.get(version)
        if shard is not None:
            return shard  # reads share open shards without taking the guard (Edge allows it)
        with self._guard:
            shard = self._shards.get(version)
            if shard is None:
                path = self._dir(version) / "shard"
                if not path.is_dir():
                    raise IndexCorruptError(
                        f"index version {version} has no shard in {path}; run `kb ingest --rebuild`"
                    )
                try:
                    shard = EdgeShard.load(str(path))
                except Exception as exc:  # Edge raises a bare Exception with the reason
                    raise IndexCorruptError(
                        f"cannot open the index shard {path} ({exc}); run `kb ingest --rebuild`"
                    ) from exc
                with contextlib.suppress(IndexCorruptError):
                    if version == self.serving():  # a build's shard is read in finish()
                        _read_through(path)
                self._shards[version] = shard
            return shard

    def _release(self, version: str) -> None:
        with self._guard:
            shard = self._shards.pop(version, None)
        if shard is not None:
            shard.close()

    # --- versions ------------------------------------------------------------------------

    def serving(self) -> str | None:
        pointer = self.root / POINTER
        try:
            version = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        if version and not (self._dir(version) / "shard").is_dir():
            raise IndexCorruptError(
                f"the index's {POINTER} file names version {version}, which is missing; run "
                "`kb ingest --rebuild`"
            )
        return version or None

    def versions(self) -> list[str]:
        folder = self.root / "versions"
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def manifest(self, version: str) -> IndexManifest | None:
        path = self._dir(version) / MANIFEST
        try:
            return IndexManifest.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise IndexCorruptError(
                f"the index's versions/{version}/{MANIFEST} is not a valid manifest "
                f"({exc.__class__.__name__}); run "
                "`kb ingest --rebuild`"
            ) from exc

    def set_manifest(self, version: str, manifest: IndexManifest) -> None:
        _atomic_write(self._dir(version) / MANIFEST, manifest.model_dump_json(indent=1))

    def create(
        self,
        version: str,
        manifest: IndexManifest,
        base: str | None = None,
        carry: Mapping[str, dict[str, Any]] | None = None,
    ) -> int:
        folder = self._dir(version)
        folder.mkdir(parents=True, exist_ok=False)
        self.set_manifest(version, manifest)
        carry = carry or {}
        if base is not None and carry and len(carry) >= CLONE_SHARE * self.count(base):
            return self._clone(base, version, carry)
        config = EdgeConfig(
            vectors={
                DENSE_VECTOR: EdgeVectorParams(size=manifest.dim, distance=Distance.Cosine),
                # Half precision: sentence choice needs no more, and it halves the bytes.
                SENTENCE_VECTORS: EdgeVectorParams(
                    size=manifest.dim,
                    distance=Distance.Dot,
                    multivector_config=MultiVectorConfig(comparator=MultiVectorComparator.MaxSim),
                    datatype=VectorStorageDatatype.Float16,
                ),
            },
            sparse_vectors={SPARSE_VECTOR: EdgeSparseVectorParams(modifier=Modifier.Idf)},
        )
        with self._guard:
            self._shards[version] = EdgeShard.create(str(folder / "shard"), config)
        if base is None or not carry:
            return 0
        source = self._shard(base)
        ids: list[PointId] = list(carry)
        for start in range(0, len(ids), WRITE_BATCH):
            batch = ids[start : start + WRITE_BATCH]
            records = source.retrieve(batch, with_payload=False, with_vector=True)
            found = {_uuid(r.id): r.vector for r in records if r.vector is not None}
            missing = [i for i in batch if str(i) not in found]
            if missing:
                raise IndexValidationError(f"point {missing[0]} vanished from {base}")
            points = [Point(id=i, vector=found[str(i)], payload=carry[str(i)]) for i in batch]
            self._shards[version].update(UpdateOperation.upsert_points(points))
        return len(carry)

    def _clone(self, base: str, version: str, carry: Mapping[str, dict[str, Any]]) -> int:
        """The base shard's directory copied, then trimmed to ``carry`` and re-labelled."""
        source = self._shard(base)
        source.flush()
        shutil.copytree(self._dir(base) / "shard", self._dir(version) / "shard")
        shard = self._shard(version)
        stale: list[PointId] = []
        changed: list[str] = []
        for point_id, payload in self._records(version, True, WRITE_BATCH):
            if point_id not in carry:
                stale.append(point_id)
            elif payload != carry[point_id]:
                changed.append(point_id)
        for start in range(0, len(stale), WRITE_BATCH):
            shard.update(UpdateOperation.delete_points(stale[start : start + WRITE_BATCH]))
        for point_id in changed:
            shard.update(UpdateOperation.clear_payload([point_id]))
            shard.update(UpdateOperation.set_payload([point_id], carry[point_id]))
        return len(carry)

    def _records(
        self, version: str, with_payload: bool | list[str], batch: int
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every point's id and payload (``with_payload``: all fields, these, or none)."""
        shard = self._shard(version)
        offset: Any = None
        while True:
            records, offset = shard.scroll(
                ScrollRequest(
                    offset=offset, limit=batch, with_payload=with_payload, with_vector=False
                )
            )
            for record in records:
                yield _uuid(record.id), dict(record.payload or {})
            if offset is None:
                return

    def drop(self, version: str) -> None:
        if version == self.serving():
            raise IndexValidationError(f"version {version} is serving; it cannot be removed")
        self._release(version)
        shutil.rmtree(self._dir(version), ignore_errors=True)

    def discard_damaged(self) -> list[str]:
        removed: list[str] = []
        for version in self.versions():
            try:
                self.manifest(version)
            except IndexCorruptError as exc:
                log.warning("removing damaged index version %s: %s", version, exc)
                self._release(version)
                shutil.rmtree(self._dir(version), ignore_errors=True)
                removed.append(version)
        try:
            self.serving()
        except IndexCorruptError as exc:
            log.warning("removing the serving pointer: %s", exc)
            (self.root / POINTER).unlink(missing_ok=True)
            removed.append(POINTER)
        return removed

    def switch(self, version: str) -> None:
        if not (self._dir(version) / "shard").is_dir():
            raise IndexValidationError(f"no index version {version} to serve")
        _atomic_write(self.root / POINTER, version + "\n")

    # --- points --------------------------------------------------------------------------

    def upsert(self, version: str, points: Sequence[StoredPoint]) -> None:
        shard = self._shard(version)
        for start in range(0, len(points), WRITE_BATCH):
            shard.update(
                UpdateOperation.upsert_points(
                    [
                        Point(id=p.id, vector=_vectors(p), payload=p.payload)
                        for p in points[start : start + WRITE_BATCH]
                    ]
                )
            )

    def finish(self, version: str) -> None:
        shard = self._shard(version)
        if self.count(version) >= self.hnsw_points:
            shard.optimize()
        shard.flush()
        _read_through(self._dir(version) / "shard")

    def candidates(self, version: str, query: CandidateQuery) -> Candidates:
        flt = _tag_filter(query.tags)
        limit = query.limit + TIE_MARGIN
        requests: list[QueryRequest] = []
        if query.dense is not None:
            requests.append(
                QueryRequest(
                    limit=limit, query=Query.Nearest(query.dense, using=DENSE_VECTOR), filter=flt
                )
            )
        sparse = query.sparse if query.sparse is not None and query.sparse.indices else None
        if sparse is not None:
            vector = EdgeSparse(indices=sparse.indices, values=sparse.values)
            requests.append(
                QueryRequest(
                    limit=limit, query=Query.Nearest(vector, using=SPARSE_VECTOR), filter=flt
                )
            )
        if not requests:
            return Candidates()
        responses = self._shard(version).query_batch(QueryBatchRequest(requests))
        lists = [
            settle_ties([ScoredHit(_uuid(p.id), p.score) for p in response], query.limit)
            for response in responses
        ]
        dense = lists.pop(0) if query.dense is not None else []
        return Candidates(dense=dense, sparse=lists.pop(0) if sparse is not None else [])

    def payloads(self, version: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        wanted: list[PointId] = list(ids)
        records = self._shard(version).retrieve(wanted, with_payload=True, with_vector=False)
        return {_uuid(r.id): dict(r.payload or {}) for r in records}

    def sentence_vectors(self, version: str, ids: Sequence[str]) -> dict[str, Matrix]:
        if not ids:
            return {}
        wanted: list[PointId] = list(ids)
        records = self._shard(version).retrieve(
            wanted, with_payload=False, with_vector=[SENTENCE_VECTORS]
        )
        out: dict[str, Matrix] = {}
        for record in records:
            matrix = sentence_matrix(record.vector, SENTENCE_VECTORS)
            if matrix is not None:
                out[_uuid(record.id)] = matrix
        return out

    def nearest(
        self, version: str, vectors: Sequence[list[float]], limit: int, skip_kind: str
    ) -> list[list[ScoredHit]]:
        flt = Filter(must_not=[FieldCondition(key="kind", match=MatchValue(value=skip_kind))])
        requests = [
            QueryRequest(limit=limit, query=Query.Nearest(v, using=DENSE_VECTOR), filter=flt)
            for v in vectors
        ]
        if not requests:
            return []
        responses = self._shard(version).query_batch(QueryBatchRequest(requests))
        return [[ScoredHit(_uuid(p.id), p.score) for p in r] for r in responses]

    def scroll(
        self, version: str, fields: Sequence[str], batch: int = 1024
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        return self._records(version, list(fields) if fields else False, batch)

    def count(self, version: str) -> int:
        return int(self._shard(version).count(CountRequest(exact=True)))

    def dense_size(self, version: str) -> int | None:
        path = self._dir(version) / "shard" / "edge_config.json"
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        vectors = config.get("vectors") or {}
        dense = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
        size = dense.get("size") if isinstance(dense, dict) else None
        return int(size) if isinstance(size, int) else None

    def close(self) -> None:
        with self._guard:
            shards, self._shards = list(self._shards.values()), {}
        for shard in shards:
            shard.close()
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
        self._lock_file.close()
