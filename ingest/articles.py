"""Load the content folder: every ``*.md`` except README.md becomes an Article.

A malformed file becomes a ``ContentError`` naming it (and the line where known); the
other files still load.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.anchors import anchor_base
from ingest.frontmatter import split_front_matter, validate_meta
from ingest.sections import Section, parse_sections
from kbcore.errors import ContentError

NOT_INDEXED = frozenset({"readme.md"})
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Article:
    """A parsed article: metadata from front matter (or derived) and its sections."""

    slug: str
    title: str
    summary: str
    tags: tuple[str, ...]
    updated: dt.date
    questions: tuple[str, ...]
    path: Path
    sections: list[Section] = field(default_factory=list)


@dataclass(frozen=True)
class LoadResult:
    """Articles that loaded, and one error per file that did not."""

    articles: list[Article]
    errors: list[ContentError]


def content_files(content_dir: Path) -> list[Path]:
    """Markdown files under ``content_dir`` that are articles, in a stable order."""
    return sorted(
        p
        for p in content_dir.rglob("*.md")
        if p.is_file()
        and p.name.lower() not in NOT_INDEXED
        and not any(part.startswith(".") for part in p.relative_to(content_dir).parts)
    )


def _derived_slug(path: Path) -> str:
    slug = re.sub(r"-+", "-", anchor_base(path.stem).replace("_", "-")).strip("-")
    return slug or "article"


def load_article(path: Path, text: str | None = None) -> Article | None:
    """Parse one file; ``None`` for a file with nothing to index (empty)."""
    if text is None:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ContentError(path, f"file is {size} bytes, over the {MAX_FILE_BYTES} limit")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ContentError(path, f"not UTF-8 text (byte {exc.start})") from exc
    if not text.strip():
        return None
    front = split_front_matter(path, text)
    if front.data is not None:
        meta = validate_meta(path, front.data, text)
        parsed = parse_sections(front.body, meta.title, line_offset=front.body_line)
        return Article(
            slug=meta.slug,
            title=meta.title,
            summary=meta.summary,
            tags=meta.tags,
            updated=meta.updated,
            questions=meta.questions,
            path=path,
            sections=parsed.sections,
        )
    # No front matter: title from a leading H1 or the file name; the rest derived.
    parsed = parse_sections(front.body, None)
    title = parsed.h1_title or path.stem.replace("-", " ").replace("_", " ").strip().title()
    sections = [
        Section(
            anchor=s.anchor,
            heading=title if s.level == 0 else s.heading,
            level=s.level,
            path=(title, *s.path[1:]),
            text=s.text,
            line=s.line,
            kind=s.kind,
            prose=s.prose,
        )
        for s in parsed.sections
    ]
    overview = sections[0].text if sections else ""
    summary = overview.split("\n", 1)[0][:300]
    updated = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date()
    return Article(
        slug=_derived_slug(path),
        title=title,
        summary=summary,
        tags=(),
        updated=updated,
        questions=(),
        path=path,
        sections=sections,
    )


def load_content(content_dir: Path, files: Iterable[Path] | None = None) -> LoadResult:
    """Load every article; duplicate slugs are an error on the later file."""
    if not content_dir.is_dir():
        raise ContentError(content_dir, "content folder does not exist")
    articles: list[Article] = []
    errors: list[ContentError] = []
    seen: dict[str, Path] = {}
    for path in files if files is not None else content_files(content_dir):
        try:
            article = load_article(path)
        except ContentError as exc:
            errors.append(exc)
            continue
        except OSError as exc:
            errors.append(ContentError(path, f"cannot read: {exc.strerror or exc}"))
            continue
        if article is None:
            continue
        if article.slug in seen:
            errors.append(
                ContentError(path, f"slug '{article.slug}' is already used by {seen[article.slug]}")
            )
            continue
        seen[article.slug] = path
        articles.append(article)
    return LoadResult(articles=articles, errors=errors)
