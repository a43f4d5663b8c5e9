"""The qdrant-client adapter of the storage port: a Qdrant server or cluster (or
qdrant-client's local mode, which stands in for a server in tests).

Each index version is a collection ``<alias>__<version>`` whose metadata holds the
manifest; the alias ``<alias>`` names the serving one and moves in one atomic alias
operation. Server errors become ``StoreUnavailableError``.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

import httpx
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import ApiException

from kbcore.errors import IndexValidationError, StoreUnavailableError
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

# Errors a Qdrant server call can end in when the server is down or unreachable.
SERVER_ERRORS: tuple[type[BaseException], ...] = (
    ApiException,
    httpx.HTTPError,
    ConnectionError,
    TimeoutError,
)
SEPARATOR = "__"
UPSERT_BATCH = 256
P = ParamSpec("P")
T = TypeVar("T")


def _unavailable(method: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except SERVER_ERRORS as exc:
            raise StoreUnavailableError("the search index did not answer") from exc

    return wrapper


def _tag_filter(tags: Sequence[str]) -> qm.Filter | None:
    if not tags:
        return None
    return qm.Filter(must=[qm.FieldCondition(key="tags", match=qm.MatchAny(any=list(tags)))])


class QdrantStore:
    """Index versions as collections behind an alias (see the module docstring)."""

    def __init__(self, client: QdrantClient, alias: str, *, exclusive: bool = False) -> None:
        self.client = client
        self.alias = alias
        self._exclusive = exclusive
        # Local mode is plain Python over dicts with no locking of its own; a server needs
        # none, but one lock per process costs nothing there.
        self._lock = threading.RLock() if exclusive else None

    @property
    def exclusive(self) -> bool:
        return self._exclusive

    def _collection(self, version: str) -> str:
        return f"{self.alias}{SEPARATOR}{version}"

    def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._lock is None:
            return method(*args, **kwargs)
        with self._lock:
            return method(*args, **kwargs)

    # --- versions ------------------------------------------------------------------------

    @_unavailable
    def serving(self) -> str | None:
        for entry in self._call(self.client.get_aliases).aliases:
            if entry.alias_name == self.alias:
                prefix = f"{self.alias}{SEPARATOR}"
                name = entry.collection_name
                return name[len(prefix) :] if name.startswith(prefix) else name
        return None

    @_unavailable
    def versions(self) -> list[str]:
        prefix = f"{self.alias}{SEPARATOR}"
        names = [c.name for c in self._call(self.client.get_collections).collections]
        return sorted(n[len(prefix) :] for n in names if n.startswith(prefix))

    @_unavailable
    def manifest(self, version: str) -> IndexManifest | None:
        metadata = self._call(self.client.get_collection, self._collection(version)).config
        if not metadata.metadata:
            return None
        return IndexManifest.model_validate(metadata.metadata)

    @_unavailable
    def set_manifest(self, version: str, manifest: IndexManifest) -> None:
        self._call(
            self.client.update_collection,
            self._collection(version),
            metadata=manifest.model_dump(),
        )

    @_unavailable
    def create(
        self,
        version: str,
        manifest: IndexManifest,
        base: str | None = None,
        carry: Mapping[str, dict[str, Any]] | None = None,
    ) -> int:
        collection = self._collection(version)
        self._call(
            self.client.create_collection,
            collection,
            vectors_config={
                DENSE_VECTOR: qm.VectorParams(size=manifest.dim, distance=qm.Distance.COSINE),
                SENTENCE_VECTORS: qm.VectorParams(
                    size=manifest.dim,
                    distance=qm.Distance.DOT,
                    multivector_config=qm.MultiVectorConfig(
                        comparator=qm.MultiVectorComparator.MAX_SIM
                    ),
                    datatype=qm.Datatype.FLOAT16,
                    hnsw_config=qm.HnswConfigDiff(m=0),  # read back, never searched
                ),
            },
            sparse_vectors_config={SPARSE_VECTOR: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
            metadata=manifest.model_dump(),
        )
        with warnings.catch_warnings():
            # Local mode accepts payload indexes but ignores them (and says so).
            warnings.simplefilter("ignore", UserWarning)
            for key in ("article", "tags"):
                self._call(
                    self.client.create_payload_index,
                    collection,
                    key,
                    qm.PayloadSchemaType.KEYWORD,
                )
        if base is None or not carry:
            return 0
        ids = list(carry)
        copied = 0
        for start in range(0, len(ids), UPSERT_BATCH):
            batch = ids[start : start + UPSERT_BATCH]
            records = self._call(
                self.client.retrieve,
                self._collection(base),
                ids=batch,
                with_vectors=True,
                with_payload=False,
            )
            vectors = {str(r.id): r.vector for r in records}
            points = []
            for point_id in batch:
                vector = vectors.get(point_id)
                if not isinstance(vector, dict):
                    raise IndexValidationError(f"point {point_id} vanished from {base}")
                points.append(qm.PointStruct(id=point_id, vector=vector, payload=carry[point_id]))
            self._call(self.client.upsert, collection, points=points, wait=True)
            copied += len(points)
        return copied

    @_unavailable
    def drop(self, version: str) -> None:
        self._call(self.client.delete_collection, self._collection(version))

    @_unavailable
    def switch(self, version: str) -> None:
        operations: list[qm.AliasOperations] = []
        if self.serving() is not None:
            operations.append(
                qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=self.alias))
            )
        operations.append(
            qm.CreateAliasOperation(
                create_alias=qm.CreateAlias(
                    collection_name=self._collection(version), alias_name=self.alias
                )
            )
        )
        self._call(self.client.update_collection_aliases, change_aliases_operations=operations)

    # --- points --------------------------------------------------------------------------

    @_unavailable
    def upsert(self, version: str, points: Sequence[StoredPoint]) -> None:
        structs = [qm.PointStruct(id=p.id, vector=_vectors(p), payload=p.payload) for p in points]
        for start in range(0, len(structs), UPSERT_BATCH):
            self._call(
                self.client.upsert,
                self._collection(version),
                points=structs[start : start + UPSERT_BATCH],
                wait=True,
            )

    def finish(self, version: str) -> None:
        """Nothing to do: a server persists and indexes on its own."""

    @_unavailable
    def candidates(self, version: str, query: CandidateQuery) -> Candidates:
        flt = _tag_filter(query.tags)
        limit = query.limit + TIE_MARGIN
        requests: list[qm.QueryRequest] = []
        if query.dense is not None:
            requests.append(
                qm.QueryRequest(query=query.dense, using=DENSE_VECTOR, filter=flt, limit=limit)
            )
        sparse = query.sparse if query.sparse is not None and query.sparse.indices else None
        if sparse is not None:
            vector = qm.SparseVector(indices=sparse.indices, values=sparse.values)
            requests.append(
                qm.QueryRequest(query=vector, using=SPARSE_VECTOR, filter=flt, limit=limit)
            )
        if not requests:
            return Candidates()
        responses = self._call(
            self.client.query_batch_points, self._collection(version), requests=requests
        )
        lists = [
            settle_ties([ScoredHit(str(p.id), p.score) for p in r.points], query.limit)
            for r in responses
        ]
        dense = lists.pop(0) if query.dense is not None else []
        return Candidates(dense=dense, sparse=lists.pop(0) if sparse is not None else [])

    @_unavailable
    def payloads(self, version: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        records = self._call(
            self.client.retrieve,
            self._collection(version),
            ids=list(ids),
            with_payload=True,
            with_vectors=False,
        )
        return {str(r.id): dict(r.payload or {}) for r in records}

    @_unavailable
    def sentence_vectors(self, version: str, ids: Sequence[str]) -> dict[str, Matrix]:
        if not ids:
            return {}
        records = self._call(
            self.client.retrieve,
            self._collection(version),
            ids=list(ids),
            with_payload=False,
            with_vectors=[SENTENCE_VECTORS],
        )
        out: dict[str, Matrix] = {}
        for record in records:
            matrix = sentence_matrix(record.vector, SENTENCE_VECTORS)
            if matrix is not None:
                out[str(record.id)] = matrix
        return out

    @_unavailable
    def nearest(
        self, version: str, vectors: Sequence[list[float]], limit: int, skip_kind: str
    ) -> list[list[ScoredHit]]:
        flt = qm.Filter(
            must_not=[qm.FieldCondition(key="kind", match=qm.MatchValue(value=skip_kind))]
        )
        requests = [
            qm.QueryRequest(query=v, using=DENSE_VECTOR, filter=flt, limit=limit) for v in vectors
        ]
        responses = self._call(
            self.client.query_batch_points, self._collection(version), requests=requests
        )
        return [[ScoredHit(str(p.id), p.score) for p in r.points] for r in responses]

    def scroll(
        self, version: str, fields: Sequence[str], batch: int = 1024
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        offset = None
        while True:
            try:
                points, offset = self._call(
                    self.client.scroll,
                    self._collection(version),
                    limit=batch,
                    offset=offset,
                    with_payload=list(fields),
                    with_vectors=False,
                )
            except SERVER_ERRORS as exc:
                raise StoreUnavailableError("the search index did not answer") from exc
            for point in points:
                yield str(point.id), dict(point.payload or {})
            if offset is None:
                return

    @_unavailable
    def count(self, version: str) -> int:
        return int(self._call(self.client.count, self._collection(version), exact=True).count)

    @_unavailable
    def dense_size(self, version: str) -> int | None:
        info = self._call(self.client.get_collection, self._collection(version))
        vectors = info.config.params.vectors
        return vectors[DENSE_VECTOR].size if isinstance(vectors, dict) else None

    def discard_damaged(self) -> list[str]:
        return []  # a server keeps collections and metadata consistent itself

    def close(self) -> None:
        self._call(self.client.close)


def _vectors(point: StoredPoint) -> dict[str, Any]:
    """A point's named vectors as qdrant-client takes them."""
    vectors: dict[str, Any] = {
        DENSE_VECTOR: point.dense,
        SPARSE_VECTOR: qm.SparseVector(indices=point.sparse.indices, values=point.sparse.values),
    }
    if point.sentences:
        vectors[SENTENCE_VECTORS] = point.sentences
    return vectors
