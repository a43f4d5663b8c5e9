"""The index schema: vector names, the chunk payload and the index manifest (how versions
are stored is the storage adapters' business, see ``kbcore.index_store``)."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"
# A multivector per chunk: row 0 is its heading path, then one row per sentence of
# ``ChunkPayload.sentences``, each pooled from the chunk's own embedding run (so the
# answerer compares sentences with the question without embedding them per question).
SENTENCE_VECTORS = "sentences"
SCHEMA_VERSION = 3
_POINT_NAMESPACE = uuid.UUID("6d1f0b55-3f3a-4c1e-9a4e-6b1b7f6c2a10")

ChunkKind = Literal["overview", "section", "faq", "question"]


class OutlineEntry(BaseModel):
    """A heading of an article, for its table of contents and deep links."""

    level: int
    heading: str
    anchor: str


class ChunkPayload(BaseModel):
    """Everything a search hit or a citation needs, stored with each point."""

    model_config = ConfigDict(frozen=True)

    article: str
    title: str
    url: str
    anchor: str
    heading: str
    heading_path: str
    level: int
    kind: ChunkKind
    section_index: int
    chunk_index: int
    chunk_count: int
    text: str
    start: int = Field(description="Offset of `text` in the section's plain text.")
    sentences: list[tuple[int, int]] = Field(description="Sentence spans within `text`.")
    tables: list[tuple[int, int]] = Field(
        default_factory=list,
        description="Spans within `text` of table lines: a header row, then one per row.",
    )
    tags: list[str]
    updated: str
    summary: str
    content_hash: str
    section_hash: str
    path: str = Field(description="The source file, relative to the content folder.")
    page_url: str = Field(description="Where the article is published (no anchor).")
    outline: list[OutlineEntry] | None = None  # only on the article's first chunk
    questions: list[str] | None = None  # only on the article's first chunk


class IndexManifest(BaseModel):
    """Recorded in the collection's metadata: what built this version."""

    model_config = ConfigDict(extra="ignore")

    schema_version: int = SCHEMA_VERSION
    embed_model: str
    dim: int
    sparse_model: str
    avgdl: float
    created_at: str
    articles: int
    sections: int
    chunks: int
    parent: str | None = None
    fingerprint: str = ""
    status: Literal["building", "ready"] = "building"
    refusal_floor: float | None = Field(
        None, description="Similarity below which questions are refused (calibrated)."
    )
    calibration: dict[str, float] = Field(default_factory=dict)
    # What the build read, so an unchanged tree is recognised without parsing it again.
    content_stamp: str = ""
    content_dir: str = ""  # the folder it was built from (resolved); "" before it was kept
    included: list[str] = Field(default_factory=list)
    content_report: dict[str, Any] = Field(default_factory=dict)


def point_id(article: str, anchor: str, chunk_index: int, kind: str, content_hash: str) -> str:
    """Stable id: the same chunk content at the same place always gets the same id."""
    key = f"{article}#{anchor}#{kind}#{chunk_index}#{content_hash}"
    return str(uuid.uuid5(_POINT_NAMESPACE, key))


def new_version() -> str:
    """A sortable, unique version id such as ``20261129t182000-3fa2``."""
    now = dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dt%H%M%S%f}-{secrets.token_hex(2)}"
