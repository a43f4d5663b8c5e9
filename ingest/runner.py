"""Runs an ingest against a Runtime with the settings' chunking and retention."""

from __future__ import annotations

from pathlib import Path

from ingest.articles import ContentSource
from ingest.build import BuildOptions, Indexer, ProgressFn, Validator
from ingest.canary import CanaryValidator, load_canaries
from ingest.chunking import ChunkingConfig
from ingest.dialects import DocsFormat
from ingest.ownership import check_same_content
from ingest.page_cache import PageCache
from ingest.report import IngestReport
from kbcore.runtime import Runtime
from kbcore.settings import Settings


def content_source(settings: Settings, content_dir: Path | None = None) -> ContentSource:
    """Where the docs are and how to read them, from the settings."""
    return ContentSource(
        content_dir=content_dir or settings.content_dir,
        exclude=tuple(settings.exclude),
        docs_format=DocsFormat(settings.docs_format),
        docs_root=settings.docs_root,
        site_url=settings.site_url,
        max_bytes=settings.max_article_bytes,
    )


def build_options(runtime: Runtime, **overrides: bool) -> BuildOptions:
    """Build options from settings, with per-run flags (dry_run, rebuild, strict)."""
    settings = runtime.settings
    return BuildOptions(
        keep_versions=settings.keep_versions,
        chunking=ChunkingConfig(
            max_tokens=settings.chunk_tokens, overlap_tokens=settings.chunk_overlap_tokens
        ),
        **overrides,
    )


def default_validators(runtime: Runtime) -> tuple[Validator, ...]:
    """The canary check, when the settings point at golden questions."""
    settings = runtime.settings
    canaries = load_canaries(settings.canary_file, settings.canary_questions)
    if not canaries:
        return ()
    return (CanaryValidator(canaries, runtime.embedder),)


def make_indexer(
    runtime: Runtime,
    validators: tuple[Validator, ...] | None = None,
    pages: PageCache | None = None,
) -> Indexer:
    """An Indexer over the runtime's store and embedder (``pages``: a long-running
    process's cache of parsed pages, see ``ingest.page_cache``)."""
    return Indexer(
        store=runtime.store,
        embedder=runtime.embedder,
        validators=default_validators(runtime) if validators is None else validators,
        pages=pages,
    )


def ingest(
    runtime: Runtime,
    content_dir: Path | None = None,
    progress: ProgressFn | None = None,
    validators: tuple[Validator, ...] | None = None,
    pages: PageCache | None = None,
    replace: bool = False,
    **flags: bool,
) -> IngestReport:
    """Bring the served index up to date with the content folder (an index built from
    another content folder is replaced only with ``replace``: ``ingest.ownership``)."""
    source = content_source(runtime.settings, content_dir)
    if not replace:
        check_same_content(runtime.store, source.content_dir, data_place(runtime.settings))
    indexer = make_indexer(runtime, validators, pages)
    return indexer.run(source, build_options(runtime, **flags), progress)


def data_place(settings: Settings) -> str:
    """Where the index lives, as the messages name it."""
    if settings.qdrant_url:
        return f"the Qdrant collection alias {settings.collection!r}"
    return f"the data folder {settings.data_dir}"
