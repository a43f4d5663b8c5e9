"""Build a new index version from the docs and switch to it.

A run never edits the version being served. It is three steps:

- ``plan``: load and chunk the docs, compare with the serving version (what to embed,
  what to carry over, what is gone), check the embedding model (``--dry-run`` stops here);
- ``write``: create the new version carrying the unchanged points over (on the embedded
  store a copy of the serving shard's directory), embed and write the rest;
- ``publish``: validate the version, measure its refusal floor, record its manifest and
  switch to it in one step; prune old versions.

If anything fails the serving version stays and the half-built one is removed (now, or
by the next run if the process died).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ingest.articles import Article, ContentSource, LoadResult, load_content
from ingest.calibrate import calibrate
from ingest.chunking import ChunkingConfig, PreparedChunk, chunk_article
from ingest.diff import ContentDiff, compute_diff, scroll_indexed
from ingest.discovery import Discovery, discover
from ingest.ownership import resolved_folder
from ingest.page_cache import PageCache
from ingest.report import ContentWarning, IngestReport, Skipped
from ingest.sentences import SentenceSplitter
from ingest.stamp import content_stamp
from ingest.swap import prune_versions, remove_unfinished
from kbcore.embedding.base import Embedder, SpanEmbedder, Vectors
from kbcore.errors import ContentError, IndexValidationError, ModelMismatchError
from kbcore.index_store import IndexStore, StoredPoint
from kbcore.schema import SCHEMA_VERSION, IndexManifest, new_version
from kbcore.sparse import SPARSE_MODEL_ID, BM25Encoder

log = logging.getLogger(__name__)

STALE_BUILD = dt.timedelta(hours=1)
EMBED_BLOCK = 256
PROGRESS_LOG_S = 5.0  # seconds between two progress lines while embedding
# A build that embeds or drops fewer than this share of the chunks keeps its parent's
# refusal floor instead of measuring it again (a one-article edit stays cheap).
RECALIBRATE_SHARE = 0.02
ProgressFn = Callable[[int, int], None]
Validator = Callable[[IndexStore, str, set[str]], None]  # (store, version, articles)


@dataclass(frozen=True)
class BuildOptions:
    """How a run behaves beyond the settings."""

    dry_run: bool = False
    rebuild: bool = False  # ignore the served version: embed everything (model change)
    strict: bool = False  # a malformed article fails the run instead of being skipped
    keep_versions: int = 2
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)


@dataclass
class Plan:
    """What a run will do, decided before anything is written."""

    loaded: LoadResult
    chunks: list[PreparedChunk]
    diff: ContentDiff
    parent: IndexManifest | None  # the serving version's manifest
    base: str | None  # the version unchanged points are carried from
    fingerprint: str
    stamp_settings: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return (
            self.parent is not None
            and self.base is not None
            and self.diff.unchanged
            and self.parent.fingerprint == self.fingerprint
        )


@dataclass
class Indexer:
    """Turns a docs folder into a served index version."""

    store: IndexStore
    embedder: Embedder
    splitter: SentenceSplitter = field(default_factory=SentenceSplitter)
    validators: Sequence[Validator] = ()
    pages: PageCache | None = None  # pages of this process's earlier builds, reused

    def prepare(self, articles: list[Article], chunking: ChunkingConfig) -> list[PreparedChunk]:
        """Chunk every article (ids are stable for unchanged content)."""
        chunks: list[PreparedChunk] = []
        for article in articles:

            def make(article: Article = article) -> list[PreparedChunk]:
                return chunk_article(article, self.splitter, self.embedder.count_tokens, chunking)

            pages = self.pages
            chunks.extend(make() if pages is None else pages.chunks(article, chunking, make))
        return chunks

    def run(
        self,
        source: ContentSource | Path,
        options: BuildOptions | None = None,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Bring the served index up to date with the docs in ``source``."""
        options = options or BuildOptions()
        source = source if isinstance(source, ContentSource) else ContentSource(source)
        started = time.perf_counter()
        report = IngestReport(dry_run=options.dry_run)
        found: Discovery | None = None
        if options.rebuild and not options.dry_run:
            self.store.discard_damaged()  # a damaged index is what --rebuild is for
        if not options.dry_run:
            remove_unfinished(self.store, older_than=None if self.store.exclusive else STALE_BUILD)
            if not options.rebuild:
                found = self._untouched(source, options, report)
                if found is None:
                    report.seconds = time.perf_counter() - started
                    return report
        plan = self.plan(source, options, report, found)
        if options.dry_run or plan.unchanged:
            report.embedded = 0 if plan.unchanged else len(plan.diff.to_embed)
            report.index_version = report.previous_version or ""
            if plan.unchanged and not options.dry_run and report.previous_version:
                self._restamp(report.previous_version, plan)
        else:
            version = self.write(plan, progress, report)
            self.publish(plan, version, report)
            prune_versions(self.store, options.keep_versions)
        report.seconds = time.perf_counter() - started
        return report

    def _stamp_settings(self, source: ContentSource, options: BuildOptions) -> list[str]:
        chunking = options.chunking
        return [
            str(source.content_dir.resolve()),
            ",".join(source.exclude),
            source.docs_format.value,
            str(source.docs_root or ""),
            source.site_url or "",
            str(source.max_bytes),
            f"{chunking.max_tokens}/{chunking.overlap_tokens}",
            self.embedder.model_id,
            SPARSE_MODEL_ID,
            f"schema {SCHEMA_VERSION}",
        ]

    def _untouched(
        self, source: ContentSource, options: BuildOptions, report: IngestReport
    ) -> Discovery | None:
        """``None`` when the serving version was built from exactly these files (and
        settings): then the run is over after a ``stat`` of each file, with nothing
        parsed. Otherwise the files found, for the build to go on with."""
        if not source.content_dir.is_dir():
            return Discovery()
        found = discover(source.content_dir, source.exclude)
        log.info("indexing %d files from %s", len(found.files), source.content_dir)
        current = self.store.serving()
        parent = self.store.manifest(current) if current else None
        if parent is None or not parent.content_stamp:
            return found
        stamp = content_stamp(
            found.files, parent.included, self._stamp_settings(source, options), source.content_dir
        )
        if stamp != parent.content_stamp:
            return found
        files = found.files
        saved = parent.content_report
        report.previous_version = report.index_version = current or ""
        report.articles, report.sections, report.chunks = (
            parent.articles,
            parent.sections,
            parent.chunks,
        )
        report.files = int(saved.get("files", len(files)))
        report.docs_format = str(saved.get("docs_format", ""))
        report.docs_format_reason = str(saved.get("docs_format_reason", ""))
        report.skipped = [Skipped(s["path"], tuple(s["reasons"])) for s in saved.get("skipped", [])]
        report.warnings = [
            ContentWarning(w["path"], w["message"], w.get("line"))
            for w in saved.get("warnings", [])
        ]
        if report.skipped and options.strict:
            first = report.skipped[0]
            raise ContentError(first.path, "; ".join(first.reasons))
        return None

    def _content_fields(self, plan: Plan) -> dict[str, Any]:
        """The manifest fields that let the next run recognise these files."""
        loaded = plan.loaded
        included = sorted(str(p) for p in loaded.included)
        stamp = content_stamp(loaded.pages, included, plan.stamp_settings, loaded.site.content_dir)
        return {
            "content_stamp": stamp,
            "content_dir": resolved_folder(loaded.site.content_dir),
            "included": included,
            "content_report": {
                "files": loaded.files,
                "docs_format": loaded.site.format.value,
                "docs_format_reason": loaded.site.reason,
                "skipped": [s.to_json() for s in loaded.skipped],
                "warnings": [w.to_json() for w in loaded.warnings],
            },
        }

    def _restamp(self, version: str, plan: Plan) -> None:
        """Files were touched but nothing changed: remember their new stamp."""
        manifest = self.store.manifest(version)
        if manifest is not None:
            self.store.set_manifest(version, manifest.model_copy(update=self._content_fields(plan)))

    def plan(
        self,
        source: ContentSource | Path,
        options: BuildOptions,
        report: IngestReport,
        found: Discovery | None = None,
    ) -> Plan:
        """Load, chunk and compare with the serving version; check the model."""
        loaded = load_content(source, found or None, self.pages)
        report.files = loaded.files
        report.docs_format = loaded.site.format.value
        report.docs_format_reason = loaded.site.reason
        report.skipped = loaded.skipped
        report.warnings = loaded.warnings
        if loaded.skipped and options.strict:
            first = loaded.skipped[0]
            raise ContentError(first.path, "; ".join(first.reasons))
        chunks = self.prepare(loaded.articles, options.chunking)
        report.articles = len(loaded.articles)
        report.sections = len({(c.payload.article, c.payload.anchor) for c in chunks})
        report.chunks = len(chunks)
        log.info(
            "parsed %d files (%s: %s): %d articles, %d sections, %d chunks; %d skipped",
            loaded.files,
            loaded.site.format.value,
            loaded.site.reason,
            report.articles,
            report.sections,
            report.chunks,
            len(loaded.skipped),
        )
        current = self.store.serving()
        parent = self.store.manifest(current) if current else None
        report.previous_version = current
        if (
            parent is not None
            and not options.rebuild
            and (parent.embed_model != self.embedder.model_id or parent.dim != self.embedder.dim)
        ):
            raise ModelMismatchError(
                f"the index was built with '{parent.embed_model}' (dimension {parent.dim}) "
                f"but '{self.embedder.model_id}' is configured; run `kb ingest --rebuild` to "
                "re-embed everything with the configured model"
            )
        # A new sparse encoding or index schema (or --rebuild) cannot reuse old vectors:
        # embed everything.
        reusable = (
            parent is not None
            and parent.sparse_model == SPARSE_MODEL_ID
            and parent.schema_version == SCHEMA_VERSION
        )
        base = current if reusable and not options.rebuild else None
        diff = compute_diff(chunks, scroll_indexed(self.store, base) if base else [])
        # On a first build every section is "added": only report diffs against a version.
        report.diff = diff.summary() if (base is not None or options.dry_run) else {}
        report.deleted = len(diff.deleted_ids)
        source = source if isinstance(source, ContentSource) else ContentSource(source)
        stamp_settings = self._stamp_settings(source, options)
        return Plan(loaded, chunks, diff, parent, base, _fingerprint(chunks), stamp_settings)

    def write(self, plan: Plan, progress: ProgressFn | None, report: IngestReport) -> str:
        """Create the new version: unchanged points carried over, the rest embedded."""
        if not plan.chunks:
            raise ContentError(
                plan.loaded.site.content_dir, "no article could be indexed; the index is unchanged"
            )
        parent = plan.parent if plan.base else None
        encoder = BM25Encoder(avgdl=parent.avgdl if parent else _avgdl(plan.chunks))
        version = new_version()
        manifest = IndexManifest(
            embed_model=self.embedder.model_id,
            dim=self.embedder.dim,
            sparse_model=SPARSE_MODEL_ID,
            avgdl=encoder.avgdl,
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            articles=report.articles,
            sections=report.sections,
            chunks=report.chunks,
            parent=report.previous_version,
            fingerprint=plan.fingerprint,
        )
        log.info(
            "building index version %s: embedding %d chunks, carrying %d over, dropping %d",
            version,
            len(plan.diff.to_embed),
            len(plan.diff.to_copy),
            len(plan.diff.deleted_ids),
        )
        carry = {c.id: c.payload.model_dump(mode="json") for c in plan.diff.to_copy}
        try:
            report.copied = self.store.create(version, manifest, plan.base, carry)
            report.embedded = self._embed_and_write(version, plan.diff, encoder, progress)
            self.store.finish(version)
        except BaseException:
            self._abandon(version)
            raise
        return version

    def publish(self, plan: Plan, version: str, report: IngestReport) -> None:
        """Validate, calibrate, record and switch (or abandon the version)."""
        try:
            self._validate(version, plan.chunks, plan.loaded.articles)
            calibration = self._calibration(version, plan)
            manifest = self.store.manifest(version)
            if manifest is None:
                raise IndexValidationError(f"index version {version} lost its manifest")
            ready = manifest.model_copy(
                update={
                    "status": "ready",
                    "refusal_floor": calibration.get("floor"),
                    "calibration": calibration,
                    **self._content_fields(plan),
                }
            )
            self.store.set_manifest(version, ready)
            self.store.switch(version)
        except BaseException:
            self._abandon(version)
            raise
        log.info(
            "switched to index version %s (%d articles, %d chunks; was %s)",
            version,
            report.articles,
            report.chunks,
            report.previous_version or "none",
        )
        report.refusal_floor = ready.refusal_floor
        report.switched = True
        report.index_version = version

    def _abandon(self, version: str) -> None:
        log.warning("index build %s failed; the served index is unchanged", version)
        try:
            self.store.drop(version)
        except Exception:  # cleanup must not hide the original error
            log.exception("could not remove the unfinished index version %s", version)

    def _calibration(self, version: str, plan: Plan) -> dict[str, float]:
        """The refusal floor: measured anew, or the parent's when little changed."""
        changed = len(plan.diff.to_embed) + len(plan.diff.deleted_ids)
        parent = plan.parent
        if (
            parent is not None
            and parent.calibration
            and changed <= RECALIBRATE_SHARE * max(len(plan.chunks), 1)
        ):
            return dict(parent.calibration)
        return calibrate(self.store, version, self.embedder, plan.chunks).to_json()

    def _embed_and_write(
        self,
        version: str,
        diff: ContentDiff,
        encoder: BM25Encoder,
        progress: ProgressFn | None,
    ) -> int:
        todo = sorted(diff.to_embed, key=lambda c: len(c.embed_text))
        done = 0
        started = last_log = time.perf_counter()
        if progress:
            progress(0, len(todo))
        # Writing one block overlaps embedding the next: onnxruntime releases the GIL.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="upsert") as writer:
            pending: list[Future[None]] = []
            for block in _batches(todo, EMBED_BLOCK):
                dense, rows = self._embed(block)
                points = [
                    StoredPoint(
                        id=chunk.id,
                        dense=[float(x) for x in dense[i].tolist()],
                        sparse=encoder.encode_document(chunk.embed_text),
                        payload=chunk.payload.model_dump(),
                        sentences=None if (matrix := rows[i]) is None else matrix.tolist(),
                    )
                    for i, chunk in enumerate(block)
                ]
                while len(pending) >= 2:  # bound the memory held by queued blocks
                    pending.pop(0).result()
                pending.append(writer.submit(self.store.upsert, version, points))
                done += len(block)
                if progress:
                    progress(done, len(todo))
                now = time.perf_counter()
                if now - last_log >= PROGRESS_LOG_S and done < len(todo):
                    last_log = now
                    rate = done / max(now - started, 1e-9)
                    log.info("embedded %d of %d chunks (%.0f/s)", done, len(todo), rate)
            for future in pending:
                future.result()
        seconds = time.perf_counter() - started
        if todo:
            rate = done / max(seconds, 1e-9)
            log.info("embedded %d chunks in %.1f s (%.0f chunks/s)", done, seconds, rate)
        return done

    def _embed(self, block: Sequence[PreparedChunk]) -> tuple[Vectors, list[Vectors | None]]:
        """Each chunk's vector and, when the embedder gives span vectors, the vectors of
        its heading path and of each of its sentences (``SENTENCE_VECTORS``), from the
        same run of the model."""
        texts = [c.embed_text for c in block]
        if not isinstance(self.embedder, SpanEmbedder):
            return self.embedder.embed_documents(texts), [None] * len(block)
        spans = [sentence_spans(c) for c in block]
        dense, pooled = self.embedder.embed_documents_with_spans(texts, spans)
        return dense, [rows if len(rows) else None for rows in pooled]

    def _validate(self, version: str, chunks: list[PreparedChunk], articles: list[Article]) -> None:
        """The new version holds exactly the planned points, every article, right vectors."""
        count = self.store.count(version)
        if count != len(chunks):
            raise IndexValidationError(
                f"version {version} holds {count} points, expected {len(chunks)}"
            )
        indexed = scroll_indexed(self.store, version)
        missing = {c.id for c in chunks} - {p.id for p in indexed}
        if missing:
            raise IndexValidationError(
                f"version {version} is missing {len(missing)} planned points"
            )
        present = {p.article for p in indexed}
        absent = [a.slug for a in articles if a.slug not in present and a.has_text]
        if absent:
            raise IndexValidationError(f"version {version} has no points for: {', '.join(absent)}")
        size = self.store.dense_size(version)
        if size != self.embedder.dim:
            raise IndexValidationError(
                f"version {version} has dense size {size}, expected {self.embedder.dim}"
            )
        for validator in self.validators:
            validator(self.store, version, {a.slug for a in articles})


def sentence_spans(chunk: PreparedChunk) -> list[tuple[int, int]]:
    """Where a chunk's heading path and sentences are in the text it is embedded as (its
    heading path, a line break, its text); none for a front-matter question."""
    payload = chunk.payload
    if payload.kind == "question":
        return []
    prefix = len(payload.heading_path)
    if not chunk.embed_text.startswith(payload.heading_path + "\n"):
        return []
    return [(0, prefix)] + [(prefix + 1 + a, prefix + 1 + b) for a, b in payload.sentences]


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


T = TypeVar("T")


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
