"""An indexed article as Markdown, as its published page reads: the whole page, or one
section.

The Markdown is rendered from the tokens the index was built from (``service.site.
markdown_render``): generator syntax already resolved (admonitions, tabs, includes, MDX
imports), the front matter gone, every link absolute -- a link to another page leads to
that page's URL, an anchor to this page's. Which article exists, where its file is and
where each page is published come from the served index version (the catalog); a section
runs from its heading to the next heading of the same or a higher level, the headings
being the ones the index split the page at, so an anchor names the same heading
everywhere. A file is only ever read when its path, resolved, is inside the content
folder.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from markdown_it.token import Token

from ingest.sections import Section
from kbcore.catalog import ArticleInfo
from service.public_urls import absolute
from service.site.content import Page, SiteContent
from service.site.markdown_render import PageLinks, render_markdown

log = logging.getLogger(__name__)
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


def _section_tokens(tokens: Sequence[Token], page: Page, anchor: str) -> Sequence[Token]:
    """The page's tokens from the heading with ``anchor`` to the next heading of the same
    or a higher level (all of them, front matter aside, for ``anchor`` "")."""
    if not anchor:
        return [t for t in tokens if t.type != "front_matter"]
    headings = [
        i
        for i, token in enumerate(tokens)
        if token.type == "heading_open" and token.level == 0 and token.attrGet("id")
    ]
    for n, index in enumerate(headings):
        if tokens[index].attrGet("id") != anchor:
            continue
        level = int(tokens[index].tag[1])
        end = next(
            (later for later in headings[n + 1 :] if int(tokens[later].tag[1]) <= level),
            len(tokens),
        )
        return tokens[index:end]
    known = ", ".join(s.anchor for s in page.article.sections if s.anchor) or "none"
    raise MarkdownNotFoundError(f"no heading with anchor '{anchor}' (anchors: {known})")


def page_links(
    page: Page, info: ArticleInfo, catalog: Mapping[str, ArticleInfo], base: str
) -> PageLinks:
    """Where the page's links lead: pages of ``catalog`` at their URLs, made absolute
    against ``base`` (the service's public URL) when they are the demo site's; other
    relative links on the real site, or on the demo site when there is no real one (its
    ``/learn/...`` links are the demo site's own); images only on the real site."""
    url = absolute(info.url, base) if base else info.url
    return PageLinks(
        url=url,
        rel=info.path,
        pages={a.path: absolute(a.url, base) if base else a.url for a in catalog.values()},
        base=page.link_base or url,
        assets=page.link_base,
    )


def read_markdown(
    site: SiteContent,
    content_dir: Path,
    info: ArticleInfo,
    anchor: str = "",
    *,
    catalog: Mapping[str, ArticleInfo] | None = None,
    base: str = "",
) -> ArticleMarkdown:
    """The article's Markdown, or one section's when ``anchor`` is given; blocking (it may
    parse the page). Links to pages of ``catalog`` (default: just this one) lead to their
    URLs, absolute against ``base`` (the service's public URL) when relative."""
    path = source_file(content_dir, info.path)
    if path is None:
        raise MarkdownNotFoundError(
            f"the source file of '{info.slug}' is not in the content folder"
        )
    page = _page(site, info, path)
    tokens = _section_tokens(page.tokens, page, anchor)
    links = page_links(page, info, catalog if catalog is not None else {info.slug: info}, base)
    section = next((s for s in page.article.sections if s.anchor == anchor), None)
    try:
        markdown = render_markdown(tokens, links)
    except Exception:  # tokens no rule foresaw (a generator's own): the indexed text
        log.warning("cannot render %s as Markdown; its text instead", info.path, exc_info=True)
        markdown = _indexed_text(page.article.sections, anchor)
    return ArticleMarkdown(
        slug=info.slug,
        title=info.title,
        heading=section.heading if anchor and section is not None else info.title,
        anchor=anchor,
        url=info.section_url(anchor),
        path=info.path,
        markdown=markdown + "\n",
    )


def _indexed_text(sections: Sequence[Section], anchor: str) -> str:
    """The section with ``anchor`` and its subsections (every section for "") as the
    index holds them: headings and plain text."""
    start = next(i for i, s in enumerate(sections) if s.anchor == anchor)
    level = sections[start].level
    parts = []
    for n, section in enumerate(sections[start:]):
        if n and level and section.level <= level:
            break
        if section.level:
            parts.append(f"{'#' * section.level} {section.heading}")
        parts.append(section.text)
    return "\n\n".join(part for part in parts if part.strip())


def _page(site: SiteContent, info: ArticleInfo, path: Path) -> Page:
    for page in site.pages():
        if page.article.slug == info.slug and page.article.path.resolve() == path:
            return page
    raise MarkdownNotFoundError(f"the source file of '{info.slug}' no longer parses as a page")
