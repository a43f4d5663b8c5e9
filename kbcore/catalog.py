"""The list of indexed articles (metadata and outline), read from an index version."""

from __future__ import annotations

from dataclasses import dataclass

from kbcore.index_store import IndexStore
from kbcore.schema import OutlineEntry

_FIELDS = [
    "article",
    "title",
    "summary",
    "tags",
    "updated",
    "outline",
    "questions",
    "kind",
    "path",
    "page_url",
]


@dataclass(frozen=True)
class ArticleInfo:
    """An indexed article: what `GET /v1/articles` lists."""

    slug: str
    title: str
    summary: str
    tags: list[str]
    updated: str
    outline: list[OutlineEntry]
    questions: list[str]
    path: str
    url: str

    def section_url(self, anchor: str) -> str:
        """Where one of the article's headings is published."""
        return f"{self.url}#{anchor}" if anchor else self.url

    def to_json(self, with_outline: bool = True) -> dict[str, object]:
        body: dict[str, object] = {
            "slug": self.slug,
            "title": self.title,
            "summary": self.summary,
            "tags": self.tags,
            "updated": self.updated,
            "url": self.url,
            "path": self.path,
        }
        if with_outline:
            body["headings"] = [
                {**entry.model_dump(), "url": self.section_url(entry.anchor)}
                for entry in self.outline
            ]
            body["questions"] = self.questions
        return body


def load_catalog(store: IndexStore, version: str) -> dict[str, ArticleInfo]:
    """Every article of a version, by slug, in title order."""
    found: dict[str, ArticleInfo] = {}
    for _, payload in store.scroll(version, _FIELDS, batch=2048):
        slug = str(payload.get("article", ""))
        outline = payload.get("outline")
        if slug in found and outline is None:
            continue
        found[slug] = ArticleInfo(
            slug=slug,
            title=str(payload.get("title", slug)),
            summary=str(payload.get("summary", "")),
            tags=list(payload.get("tags") or []),
            updated=str(payload.get("updated", "")),
            outline=[OutlineEntry.model_validate(o) for o in outline or []],
            questions=list(payload.get("questions") or []),
            path=str(payload.get("path", "")),
            url=str(payload.get("page_url", "")),
        )
    return dict(sorted(found.items(), key=lambda item: item[1].title.lower()))
