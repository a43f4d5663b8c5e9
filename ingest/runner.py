"""Runs an ingest against a Runtime with the settings' chunking and retention."""

from __future__ import annotations

from pathlib import Path

from ingest.build import BuildOptions, Indexer, IngestReport, ProgressFn, Validator
from ingest.canary import CanaryValidator, load_canaries
from ingest.chunking import ChunkingConfig
from kbcore.runtime import Runtime


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
    return (CanaryValidator(canaries, runtime.embedder, settings.collection),)


def make_indexer(runtime: Runtime, validators: tuple[Validator, ...] | None = None) -> Indexer:
    """An Indexer over the runtime's client and embedder."""
    return Indexer(
        client=runtime.client,
        embedder=runtime.embedder,
        alias=runtime.settings.collection,
        validators=default_validators(runtime) if validators is None else validators,
        exclusive=runtime.settings.qdrant_url is None,
    )


def ingest(
    runtime: Runtime,
    content_dir: Path | None = None,
    progress: ProgressFn | None = None,
    validators: tuple[Validator, ...] | None = None,
    **flags: bool,
) -> IngestReport:
    """Bring the served index up to date with the content folder."""
    indexer = make_indexer(runtime, validators)
    return indexer.run(
        content_dir or runtime.settings.content_dir, build_options(runtime, **flags), progress
    )
