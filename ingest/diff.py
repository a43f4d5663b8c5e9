"""What changed between the served index and the content folder, section by section."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ingest.chunking import PreparedChunk
from kbcore.index_store import IndexStore

SectionKey = tuple[str, str]  # (article slug, anchor)


@dataclass(frozen=True)
class IndexedPoint:
    """What the diff needs to know about a point already in the index."""

    id: str
    article: str
    anchor: str
    heading: str
    section_hash: str


@dataclass
class ArticleDiff:
    """Sections of one article that are new, changed or gone."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, list[str]]:
        return {"added": self.added, "changed": self.changed, "removed": self.removed}


@dataclass(frozen=True)
class ContentDiff:
    """The plan of an ingest run: points to embed, to copy, and to leave behind."""

    to_embed: list[PreparedChunk]
    to_copy: list[PreparedChunk]
    deleted_ids: list[str]
    articles: dict[str, ArticleDiff]

    @property
    def unchanged(self) -> bool:
        return not self.to_embed and not self.deleted_ids

    def summary(self) -> dict[str, dict[str, list[str]]]:
        return {slug: diff.to_json() for slug, diff in sorted(self.articles.items())}


def scroll_indexed(store: IndexStore, version: str) -> list[IndexedPoint]:
    """Every point of a version with the fields the diff compares."""
    return [
        IndexedPoint(
            id=point_id,
            article=str(payload.get("article", "")),
            anchor=str(payload.get("anchor", "")),
            heading=str(payload.get("heading", "")),
            section_hash=str(payload.get("section_hash", "")),
        )
        for point_id, payload in store.scroll(
            version, ["article", "anchor", "heading", "section_hash"]
        )
    ]


def _sections(
    items: Iterable[tuple[str, str, str, str]],
) -> dict[SectionKey, tuple[str, set[str]]]:
    """(article, anchor) -> (heading, section hashes) from (article, anchor, heading, hash)."""
    out: dict[SectionKey, tuple[str, set[str]]] = {}
    for article, anchor, heading, section_hash in items:
        _heading, hashes = out.setdefault((article, anchor), (heading, set()))
        hashes.add(section_hash)
    return out


def compute_diff(chunks: list[PreparedChunk], indexed: list[IndexedPoint]) -> ContentDiff:
    """Compare the chunks the content yields with what the index holds."""
    indexed_ids = {p.id for p in indexed}
    new_ids = {c.id for c in chunks}
    to_embed = [c for c in chunks if c.id not in indexed_ids]
    to_copy = [c for c in chunks if c.id in indexed_ids]
    deleted = sorted(indexed_ids - new_ids)

    old = _sections((p.article, p.anchor, p.heading, p.section_hash) for p in indexed)
    new = _sections(
        (c.payload.article, c.payload.anchor, c.payload.heading, c.payload.section_hash)
        for c in chunks
    )
    articles: dict[str, ArticleDiff] = {}
    for key in new.keys() | old.keys():
        slug = key[0]
        label = key[1] or "(overview)"
        if key not in old:
            articles.setdefault(slug, ArticleDiff()).added.append(label)
        elif key not in new:
            articles.setdefault(slug, ArticleDiff()).removed.append(label)
        elif old[key][1] != new[key][1]:
            articles.setdefault(slug, ArticleDiff()).changed.append(label)
    for diff in articles.values():
        diff.added.sort()
        diff.changed.sort()
        diff.removed.sort()
    return ContentDiff(to_embed=to_embed, to_copy=to_copy, deleted_ids=deleted, articles=articles)
