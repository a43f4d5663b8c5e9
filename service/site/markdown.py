"""An indexed article as Markdown, read from its source file: the whole page, or one section.

The source file is the truth: its text is returned as written, without the front matter.
Which article exists, and where its file is, comes from the served index version (the
catalog); where each section starts comes from the same parse the index and the demo site
use, so an anchor names the same heading everywhere. A file is only ever read when its
path, resolved, is inside the content folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ingest.sections import Section
from kbcore.catalog import ArticleInfo
from service.site.content import Page, SiteContent

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what markdown-it counts lines by
_H1 = re.compile(r"^ {0,3}# ")


class MarkdownNotFoundError(LookupError):
    """The article's source, or the section asked for, is not there (message says which)."""


@dataclass(frozen=True)
class ArticleMarkdown:
    """An article, or one of its sections, as Markdown."""

    slug: str
    title: str
    heading: str  # the section's heading; the title for the whole article
    anchor: str  # "" for the whole article
    url: str  # where it is published (with the anchor for a section)
    path: str  # the source file, relative to the content folder
    markdown: str

    def document(self) -> str:
        """The Markdown as a document of its own: it opens with a heading (the title is
        added when the page has no H1 of its own)."""
        if self.anchor or _H1.match(self.markdown):
            return self.markdown
        return f"# {self.title}\n\n{self.markdown}"


def source_file(content_dir: Path, rel: str) -> Path | None:
    """The file ``rel`` names under ``content_dir``, or None when it resolves outside it
    (absolute paths, ``..``, links that leave the folder) or is not a file."""
    if not rel or PurePosixPath(rel).is_absolute() or "\\" in rel or "\x00" in rel:
        return None
    root = content_dir.resolve()
    try:
        path = (root / rel).resolve()
    except (OSError, RuntimeError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def _section_lines(sections: list[Section], anchor: str) -> tuple[Section, int | None]:
    """The section with ``anchor`` and the 1-based line where it ends (exclusive), None
    for the end of the file: the next heading of the same or a higher level."""
    for index, section in enumerate(sections):
        if section.anchor != anchor:
            continue
        if section.level == 0:
            return section, None
        for later in sections[index + 1 :]:
            if 0 < later.level <= section.level:
                return section, later.line
        return section, None
    headings = ", ".join(s.anchor for s in sections if s.anchor) or "none"
    raise MarkdownNotFoundError(f"no heading with anchor '{anchor}' (anchors: {headings})")


def read_markdown(
    site: SiteContent, content_dir: Path, info: ArticleInfo, anchor: str = ""
) -> ArticleMarkdown:
    """The article's Markdown (front matter removed), or one section's when ``anchor`` is
    given; blocking (it may parse the page)."""
    path = source_file(content_dir, info.path)
    if path is None:
        raise MarkdownNotFoundError(
            f"the source file of '{info.slug}' is not in the content folder"
        )
    page = _page(site, info, path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MarkdownNotFoundError(f"the source file of '{info.slug}' cannot be read") from exc
    lines = _LINE_BREAK.split(text)
    section, end = _section_lines(page.article.sections, anchor)
    start = page.article.sections[0].line if section.level == 0 else section.line
    body = "\n".join(lines[start - 1 : None if end is None else end - 1]).strip("\n")
    return ArticleMarkdown(
        slug=info.slug,
        title=info.title,
        heading=section.heading if anchor else info.title,
        anchor=anchor,
        url=info.section_url(anchor),
        path=info.path,
        markdown=body + "\n",
    )


def _page(site: SiteContent, info: ArticleInfo, path: Path) -> Page:
    for page in site.pages():
        if page.article.slug == info.slug and page.article.path.resolve() == path:
            return page
    raise MarkdownNotFoundError(f"the source file of '{info.slug}' no longer parses as a page")
