"""Build a new index version from the content folder and switch the alias to it.

A run never edits the version being served: it writes a fresh collection (copying the
vectors of unchanged chunks, embedding only new or changed ones), validates it, and then
moves the alias in one operation. If anything fails the alias stays where it was and the
half-built collection is removed (now, or by the next run if the process died).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from ingest.articles import Article, ContentSource, load_content
from ingest.calibrate import calibrate
from ingest.chunking import ChunkingConfig, PreparedChunk, chunk_article
from ingest.diff import ContentDiff, compute_diff, scroll_indexed
from ingest.report import IngestReport
from ingest.sentences import SentenceSplitter
from ingest.swap import prune_versions, remove_unfinished, switch_alias
from kbcore.embedding.base import Embedder
from kbcore.errors import ContentError, IndexValidationError, ModelMismatchError
from kbcore.schema import (
    DENSE_VECTOR,
    SPARSE_VECTOR,
    IndexManifest,
    new_version,
    version_collection,
    version_of,
)
from kbcore.sparse import SPARSE_MODEL_ID, BM25Encoder
from kbcore.versions import read_manifest, serving_collection

log = logging.getLogger(__name__)

UPSERT_BATCH = 256
STALE_BUILD = dt.timedelta(hours=1)
EMBED_BLOCK = 256
# A build that embeds or drops fewer than this share of the chunks keeps its parent's
# refusal floor instead of measuring it again (a one-article edit stays cheap).
RECALIBRATE_SHARE = 0.02
ProgressFn = Callable[[int, int], None]
Validator = Callable[[QdrantClient, str, set[str]], None]  # (client, collection, articles)


@dataclass(frozen=True)
class BuildOptions:
    """How a run behaves beyond the settings."""

    dry_run: bool = False
    rebuild: bool = False  # ignore the served version: embed everything (model change)
    strict: bool = False  # a malformed article fails the run instead of being skipped
    keep_versions: int = 2
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)


@dataclass
class Indexer:
    """Turns a content folder into a served index version in Qdrant."""

    client: QdrantClient
    embedder: Embedder
    alias: str
    splitter: SentenceSplitter = field(default_factory=SentenceSplitter)
    validators: Sequence[Validator] = ()
    # True when this process alone writes the store (embedded Qdrant): any unfinished
    # build is a dead one. On a shared server only builds older than an hour are.
    exclusive: bool = True

    def prepare(self, articles: list[Article], chunking: ChunkingConfig) -> list[PreparedChunk]:
        """Chunk every article (ids are stable for unchanged content)."""
        chunks: list[PreparedChunk] = []
        for article in articles:
            chunks.extend(
                chunk_article(article, self.splitter, self.embedder.count_tokens, chunking)
            )
        return chunks

    def run(
        self,
        source: ContentSource | Path,
        options: BuildOptions | None = None,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Bring the served index up to date with the docs in ``source``."""
        options = options or BuildOptions()
        started = time.perf_counter()
        report = IngestReport(dry_run=options.dry_run)
        loaded = load_content(source)
        content_dir = loaded.site.content_dir
        report.files = loaded.files
        report.docs_format = loaded.site.format.value
        report.skipped = loaded.skipped
        report.warnings = loaded.warnings
        if loaded.skipped and options.strict:
            first = loaded.skipped[0]
            raise ContentError(first.path, "; ".join(first.reasons))
        if not options.dry_run:
            stale = None if self.exclusive else STALE_BUILD
            remove_unfinished(self.client, self.alias, older_than=stale)
        chunks = self.prepare(loaded.articles, options.chunking)
        report.articles = len(loaded.articles)
        report.sections = len({(c.payload.article, c.payload.anchor) for c in chunks})
        report.chunks = len(chunks)

        current = serving_collection(self.client, self.alias)
        manifest = read_manifest(self.client, current) if current else None
        report.previous_version = version_of(self.alias, current) if current else None
        if (
            manifest is not None
            and not options.rebuild
            and (
                manifest.embed_model != self.embedder.model_id or manifest.dim != self.embedder.dim
            )
        ):
            raise ModelMismatchError(
                f"the index was built with '{manifest.embed_model}' (dimension {manifest.dim}) "
                f"but '{self.embedder.model_id}' is configured; run `kb ingest --rebuild` to "
                "re-embed everything with the configured model"
            )
        # A new sparse encoding (or --rebuild) cannot reuse old vectors: embed everything.
        reusable = manifest is not None and manifest.sparse_model == SPARSE_MODEL_ID
        base = current if current is not None and reusable and not options.rebuild else None
        indexed = scroll_indexed(self.client, base) if base else []
        diff = compute_diff(chunks, indexed)
        # On a first build every section is "added": only report diffs against a version.
        report.diff = diff.summary() if (base is not None or options.dry_run) else {}
        report.deleted = len(diff.deleted_ids)
        fingerprint = _fingerprint(chunks)
        same = (
            manifest is not None
            and base is not None
            and diff.unchanged
            and manifest.fingerprint == fingerprint
        )
        if options.dry_run or same:
            report.embedded = 0 if same else len(diff.to_embed)
            report.index_version = report.previous_version or ""
            report.seconds = time.perf_counter() - started
            return report
        if not chunks:
            raise ContentError(content_dir, "no article could be indexed; the index is unchanged")

        encoder = BM25Encoder(
            avgdl=manifest.avgdl if (manifest is not None and base) else _avgdl(chunks)
        )
        version = new_version()
        collection = version_collection(self.alias, version)
        new_manifest = IndexManifest(
            embed_model=self.embedder.model_id,
            dim=self.embedder.dim,
            sparse_model=SPARSE_MODEL_ID,
            avgdl=encoder.avgdl,
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            articles=report.articles,
            sections=report.sections,
            chunks=report.chunks,
            parent=report.previous_version,
            fingerprint=fingerprint,
        )
        self._create(collection, new_manifest)
        log.info(
            "building index version %s: embedding %d chunks, copying %d, dropping %d",
            version,
            len(diff.to_embed),
            len(diff.to_copy),
            len(diff.deleted_ids),
        )
        try:
            if base:
                report.copied = self._copy(base, collection, diff)
            report.embedded = self._embed_and_upsert(collection, diff, encoder, progress)
            self._validate(collection, chunks, loaded.articles)
            calibration = self._calibration(collection, chunks, manifest, diff)
            ready = new_manifest.model_copy(
                update={
                    "status": "ready",
                    "refusal_floor": calibration.get("floor"),
                    "calibration": calibration,
                }
            )
            self.client.update_collection(collection, metadata=ready.model_dump())
            report.refusal_floor = ready.refusal_floor
            switch_alias(self.client, self.alias, collection)
        except BaseException:
            log.warning("index build %s failed; the served index is unchanged", version)
            _drop_quietly(self.client, collection)
            raise
        report.switched = True
        report.index_version = version
        prune_versions(self.client, self.alias, options.keep_versions)
        report.seconds = time.perf_counter() - started
        return report

    def _calibration(
        self,
        collection: str,
        chunks: list[PreparedChunk],
        parent: IndexManifest | None,
        diff: ContentDiff,
    ) -> dict[str, float]:
        """The refusal floor: measured anew, or the parent's when little changed."""
        changed = len(diff.to_embed) + len(diff.deleted_ids)
        if (
            parent is not None
            and parent.calibration
            and changed <= RECALIBRATE_SHARE * max(len(chunks), 1)
        ):
            return dict(parent.calibration)
        return calibrate(self.client, collection, self.embedder, chunks).to_json()

    def _create(self, collection: str, manifest: IndexManifest) -> None:
        self.client.create_collection(
            collection,
            vectors_config={
                DENSE_VECTOR: qm.VectorParams(size=manifest.dim, distance=qm.Distance.COSINE)
            },
            sparse_vectors_config={SPARSE_VECTOR: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
            metadata=manifest.model_dump(),
        )
        with warnings.catch_warnings():
            # Local mode accepts payload indexes but ignores them (and says so); servers use them.
            warnings.simplefilter("ignore", UserWarning)
            for key in ("article", "tags"):
                self.client.create_payload_index(collection, key, qm.PayloadSchemaType.KEYWORD)

    def _copy(self, source: str, target: str, diff: ContentDiff) -> int:
        """Copy unchanged chunks with their vectors; payloads come from the new content."""
        copied = 0
        for batch in _batches(diff.to_copy, UPSERT_BATCH):
            records = self.client.retrieve(
                source, ids=[c.id for c in batch], with_vectors=True, with_payload=False
            )
            vectors = {str(r.id): r.vector for r in records}
            points = []
            for chunk in batch:
                vector = vectors.get(chunk.id)
                if not isinstance(vector, dict):
                    raise IndexValidationError(f"point {chunk.id} vanished from {source}")
                points.append(
                    qm.PointStruct(id=chunk.id, vector=vector, payload=chunk.payload.model_dump())
                )
            self.client.upsert(target, points=points, wait=True)
            copied += len(points)
        return copied

    def _embed_and_upsert(
        self,
        collection: str,
        diff: ContentDiff,
        encoder: BM25Encoder,
        progress: ProgressFn | None,
    ) -> int:
        todo = sorted(diff.to_embed, key=lambda c: len(c.embed_text))
        done = 0
        if progress:
            progress(0, len(todo))
        # Writing one block overlaps embedding the next: onnxruntime releases the GIL.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upsert") as writer:
            pending: list[Future[None]] = []
            for block in _batches(todo, EMBED_BLOCK):
                dense = self.embedder.embed_documents([c.embed_text for c in block])
                points = [
                    qm.PointStruct(
                        id=chunk.id,
                        vector={
                            DENSE_VECTOR: _as_list(dense[i]),
                            SPARSE_VECTOR: _sparse(encoder, chunk.embed_text),
                        },
                        payload=chunk.payload.model_dump(),
                    )
                    for i, chunk in enumerate(block)
                ]
                while len(pending) >= 2:  # bound the memory held by queued blocks
                    pending.pop(0).result()
                pending.append(writer.submit(self._upsert, collection, points))
                done += len(block)
                if progress:
                    progress(done, len(todo))
            for future in pending:
                future.result()
        return done

    def _upsert(self, collection: str, points: list[qm.PointStruct]) -> None:
        for batch in _batches(points, UPSERT_BATCH):
            self.client.upsert(collection, points=list(batch), wait=True)

    def _validate(
        self, collection: str, chunks: list[PreparedChunk], articles: list[Article]
    ) -> None:
        """The new version holds exactly the planned points, every article, right vectors."""
        count = self.client.count(collection, exact=True).count
        if count != len(chunks):
            raise IndexValidationError(f"{collection} holds {count} points, expected {len(chunks)}")
        indexed = scroll_indexed(self.client, collection)
        missing = {c.id for c in chunks} - {p.id for p in indexed}
        if missing:
            raise IndexValidationError(f"{collection} is missing {len(missing)} planned points")
        present = {p.article for p in indexed}
        absent = [a.slug for a in articles if a.slug not in present and a.has_text]
        if absent:
            raise IndexValidationError(f"{collection} has no points for: {', '.join(absent)}")
        info = self.client.get_collection(collection)
        vectors = info.config.params.vectors
        size = vectors[DENSE_VECTOR].size if isinstance(vectors, dict) else None
        if size != self.embedder.dim:
            raise IndexValidationError(
                f"{collection} has dense size {size}, expected {self.embedder.dim}"
            )
        for validator in self.validators:
            validator(self.client, collection, {a.slug for a in articles})


def _fingerprint(chunks: list[PreparedChunk]) -> str:
    digest = hashlib.sha256()
    for chunk in sorted(chunks, key=lambda c: c.id):
        digest.update(chunk.id.encode())
        digest.update(json.dumps(chunk.payload.model_dump(), sort_keys=True).encode())
    return digest.hexdigest()


def _avgdl(chunks: list[PreparedChunk]) -> float:
    encoder = BM25Encoder()
    lengths = [encoder.document_length(c.embed_text) for c in chunks]
    return float(np.mean(lengths)) if lengths else 100.0


def _sparse(encoder: BM25Encoder, text: str) -> qm.SparseVector:
    vector = encoder.encode_document(text)
    return qm.SparseVector(indices=vector.indices, values=vector.values)


def _as_list(row: np.ndarray) -> list[float]:
    return [float(x) for x in row.tolist()]


T = TypeVar("T")


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _drop_quietly(client: QdrantClient, collection: str) -> None:
    try:
        client.delete_collection(collection)
    except Exception:  # cleanup must not hide the original error
        log.exception("could not remove the unfinished collection %s", collection)
