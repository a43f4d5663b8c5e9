"""Check a docs tree's own cross-links against the URLs and anchors the service cites.

A site owner trusts a citation's link when it lands where the site's own links land. So
every link one page makes to another page or heading of the same tree (``](#a)``,
``](page.md#a)``, ``](../guide/x#a)``, ``](/guide/x/#a)``, a MyST ``{ref}``) is followed
the way the published site follows it, and must arrive at a page URL the index holds and,
with a fragment, at one of that page's section anchors (or an id inside a section).

Each link is one of:

- ``landed``: on an indexed page URL, and its anchor (if any) is one of the page's;
- ``dead``: the docs' own dead link: the page it names is in no file of the tree, or the
  heading it names is in no page at all (not even spelled another way);
- ``moved``: the heading it names exists, but on another page than the one linked;
- ``missed``: the target exists in the tree but the service computed another URL or anchor
  for it (our bug: counted against the rate).

``rate = landed / (landed + missed)``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

from markdown_it.token import Token

from ingest.articles import Article, ContentSource, Page, make_loader, unpublished_removed
from ingest.discovery import discover
from kbcore.errors import ContentError

PLACEHOLDER_SITE = "https://docs.invalid"
PAGE_SUFFIXES = (".md", ".mdx", ".markdown")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_NOT_PAGES = re.compile(
    r"\.(?:png|jpe?g|gif|svg|webp|avif|ico|pdf|zip|gz|json|ya?ml|toml|txt|js|mjs|ts|css|"
    r"py|ipynb|mp4|webm|mov|csv|xml|bib|tex|docx|woff2?)$",
    re.I,
)
_LOOSE = re.compile(r"[^0-9a-z]+")


def loose(text: str) -> str:
    """Letters and digits only, lower-cased: two spellings of one heading compare equal."""
    return _LOOSE.sub("", text.lower())


@dataclass(frozen=True)
class Link:
    """One cross-link: the page it is on, its line and its target as written."""

    page: str  # source file, relative to the content folder
    line: int
    href: str


@dataclass
class LinkReport:
    """Every checked link's outcome (see the module docstring)."""

    landed: int = 0
    missed: list[tuple[Link, str]] = field(default_factory=list)
    dead: list[tuple[Link, str]] = field(default_factory=list)
    moved: list[tuple[Link, str]] = field(default_factory=list)

    @property
    def checked(self) -> int:
        return self.landed + len(self.missed) + len(self.dead) + len(self.moved)

    @property
    def rate(self) -> float:
        """Share of links to existing targets that land where the service links."""
        denominator = self.landed + len(self.missed)
        return self.landed / denominator if denominator else 1.0

    def summary(self) -> str:
        return (
            f"{self.landed}/{self.landed + len(self.missed)} landed ({self.rate:.1%}); "
            f"{len(self.dead)} dead, {len(self.moved)} to a heading on another page"
        )


def links_of(tokens: Sequence[Token]) -> Iterable[tuple[int, str]]:
    """``(line, href)`` of every link in a page's tokens."""
    for token in tokens:
        line = (token.map[0] + 1) if token.map else 0
        for child in token.children or []:
            if child.type == "link_open":
                href = child.attrGet("href")
                if isinstance(href, str) and href:
                    yield line, href


def _url_key(url: str) -> str:
    """A page URL compared the way a web server serves it: no trailing slash, no
    ``.html``, no ``index``."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    for suffix in ("/index.html", ".html", "/index"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return f"{parts.netloc}{path.rstrip('/')}"


@dataclass
class _Tree:
    articles: list[Article]
    by_url: dict[str, Article]
    by_rel: dict[str, Article]
    by_stem: dict[str, Article]  # rel path without its suffix (and without /index)
    anchors: dict[str, set[str]]  # article url key -> anchors and ids
    loose_anchors: dict[str, set[str]]  # article url key -> loose anchors and headings
    everywhere: Counter[str]  # loose anchors and headings of every page

    @classmethod
    def of(cls, articles: list[Article]) -> _Tree:
        tree = cls(articles, {}, {}, {}, {}, {}, Counter())
        for article in articles:
            key = _url_key(article.url)
            tree.by_url.setdefault(key, article)
            tree.by_rel[article.rel] = article
            stem = str(PurePosixPath(article.rel).with_suffix(""))
            tree.by_stem[stem.lower()] = article
            if stem.lower().endswith(("/index", "/readme")) or stem.lower() in ("index", "readme"):
                tree.by_stem[str(PurePosixPath(stem).parent).lower()] = article
            ids = {s.anchor for s in article.sections} | {
                i for s in article.sections for i in s.ids
            }
            tree.anchors[key] = ids
            spelled = {loose(a) for a in ids} | {loose(s.heading) for s in article.sections}
            tree.loose_anchors[key] = spelled
            tree.everywhere.update(spelled)
        return tree


def _target(tree: _Tree, page: Article, path: str) -> tuple[Article | None, str]:
    """The article a link's path names, or None with why (``dead``/``missed``/``skip``)."""
    if not path:
        return page, ""
    rel_dir = PurePosixPath(page.rel).parent
    lowered = path.lower()
    if lowered.endswith(PAGE_SUFFIXES) or any(f"{s}/" in lowered for s in PAGE_SUFFIXES):
        base = PurePosixPath("/") if path.startswith("/") else PurePosixPath("/") / rel_dir
        joined = _normal(base / path.lstrip("/") if path.startswith("/") else base / path)
        found = tree.by_rel.get(joined)
        if found is not None:
            return found, ""
        stem = str(PurePosixPath(joined).with_suffix("")).lower()
        return tree.by_stem.get(stem), "dead"
    if _NOT_PAGES.search(path):
        return None, "skip"
    url = urljoin(page.url, path)
    found = tree.by_url.get(_url_key(url))
    if found is not None:
        return found, ""
    # Not at any URL we give a page: a page whose file matches is our miss, else dead.
    tail = _url_key(url).split("/", 1)[1] if "/" in _url_key(url) else ""
    for candidate in (tail, *(tail.split("/", n)[-1] for n in range(1, 3))):
        if candidate and candidate.lower() in tree.by_stem:
            return None, f"missed: the page is {tree.by_stem[candidate.lower()].url}"
    return None, "dead"


def _normal(path: PurePosixPath) -> str:
    parts: list[str] = []
    for part in path.parts[1:]:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def check_links(pages: Iterable[Page], site_url: str) -> LinkReport:
    """Follow every internal link of ``pages`` (loaded with ``site_url``)."""
    pages = list(pages)
    tree = _Tree.of([p.article for p in pages])
    report = LinkReport()
    origin = urlsplit(site_url)
    for page in pages:
        for line, href in links_of(page.tokens):
            link = Link(page.article.rel, line, href)
            if href.startswith(site_url):
                href = href[len(site_url) :] or "/"
                if href.endswith(".md") and href.lstrip("/") not in tree.by_rel:
                    # A page URL plus ``.md`` (Mintlify, llms.txt mirrors): the page's
                    # Markdown, served at its URL; not a source file.
                    href = href[: -len(".md")]
            elif _SCHEME.match(href) or href.startswith("//"):
                continue
            parts = urlsplit(href)
            path, fragment = unquote(parts.path), unquote(parts.fragment)
            if path.startswith("/") and not path.lower().endswith(PAGE_SUFFIXES):
                # Site-absolute: from the host's root (Docusaurus, Jekyll), else from the
                # site's base path (VitePress ``base``, Mintlify's subpath).
                article, why = _target(
                    tree, page.article, f"{origin.scheme}://{origin.netloc}{path}"
                )
                if article is None and why != "skip":
                    article, why = _target(tree, page.article, f"{site_url.rstrip('/')}{path}")
            else:
                article, why = _target(tree, page.article, path)
            if why == "skip":
                continue
            if article is None:
                (report.missed if why.startswith("missed") else report.dead).append((link, why))
                continue
            if why == "dead":  # a file link whose file is gone, but a page of that name
                report.missed.append((link, f"file link resolved by name to {article.rel}"))
                continue
            if not fragment:
                report.landed += 1
                continue
            key = _url_key(article.url)
            if fragment in tree.anchors[key]:
                report.landed += 1
            elif loose(fragment) in tree.loose_anchors[key]:
                ours = sorted(a for a in tree.anchors[key] if loose(a) == loose(fragment))
                report.missed.append((link, f"anchor here is {ours or 'another spelling'}"))
            elif tree.everywhere[loose(fragment)]:
                report.moved.append((link, "heading is on another page"))
            else:
                report.dead.append((link, "no such heading anywhere"))
    return report


def load_pages(source: ContentSource) -> tuple[list[Page], list[str]]:
    """Every page of a tree with its tokens (the link checker needs them), and the files
    that did not load with why."""
    found = discover(source.content_dir, source.exclude)
    loader = make_loader(source, found.files)
    found = unpublished_removed(found, loader.site)
    pages: list[Page] = []
    failed = [f"{s.path}: {'; '.join(s.reasons)}" for s in found.skipped]
    for file in found.files:
        try:
            pages.append(loader.page(file))
        except ContentError as exc:
            failed.append(f"{file.rel}: {exc.message}")
    return pages, failed
