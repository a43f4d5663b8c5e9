"""Load a docs tree as it is: every page parsed once, every field derived when absent.

Nothing is dropped silently: a file that cannot be indexed is reported as skipped with
every reason at once (undecodable bytes with their lines, invalid front matter with its
line, over the size cap, a draft), and something worth knowing about an indexed file is a
warning (a field ignored, an include left out, no text left to index).

- title: front matter ``title``, else the page's leading H1, else the file (or folder) name;
- summary: ``summary`` or ``description``, else the page's first paragraph;
- updated: ``updated``/``lastmod``/``date``, else the file's last commit in a git
  checkout, else its modification time.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import pathspec
from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingest.dialects import DocsFormat, DocsSite, detect_site, sample_texts
from ingest.discovery import DEFAULT_EXCLUDE, ContentFile, Discovery, assign_slugs, discover
from ingest.frontmatter import FrontMatterError, Meta, load_yaml, read_meta, split_toml
from ingest.generators import PageContext
from ingest.gitdates import last_commit_dates, modified_date
from ingest.includes import IncludeContext
from ingest.markdown import build_parser, undefined_references
from ingest.page_cache import Outcome, PageCache, Parsed, Refused
from ingest.report import ContentWarning, Skipped
from ingest.sections import Section, split_sections
from ingest.urls import page_url
from kbcore.errors import ContentError

DEFAULT_MAX_BYTES = 2 * 1024 * 1024
SUMMARY_CHARS = 300
_DEFINITION = re.compile(r"^ {0,3}\[([^\]]+)\]:", re.M)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


@dataclass(frozen=True)
class Article:
    """A parsed page: metadata (from front matter or derived) and its sections."""

    slug: str
    title: str
    summary: str
    tags: tuple[str, ...]
    updated: dt.date
    questions: tuple[str, ...]
    path: Path
    rel: str = ""  # the source file relative to the content folder
    url: str = ""  # where the page is published (no anchor)
    sections: list[Section] = field(default_factory=list)

    @property
    def has_text(self) -> bool:
        return any(s.text.strip() for s in self.sections)


@dataclass(frozen=True)
class Page:
    """An article with the tokens it was parsed from (the demo site renders them)."""

    article: Article
    tokens: list[Token]
    title_tokens: tuple[int, int] | None
    warnings: list[ContentWarning]
    included: frozenset[Path] = frozenset()


@dataclass(frozen=True)
class ContentSource:
    """Where the docs are and how to read them (built from Settings by the callers)."""

    content_dir: Path
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    docs_format: DocsFormat = DocsFormat.AUTO
    docs_root: Path | None = None
    site_url: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass
class LoadResult:
    """Articles that loaded, files that did not (with why), and warnings."""

    site: DocsSite
    articles: list[Article]
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[ContentWarning] = field(default_factory=list)
    files: int = 0
    pages: list[ContentFile] = field(default_factory=list)  # every page file found
    included: set[Path] = field(default_factory=set)  # files pages included


def _prettify(name: str) -> str:
    words = " ".join(name.replace("-", " ").replace("_", " ").split())
    return words[:1].upper() + words[1:] if words else name


def _summary(sections: list[Section]) -> str:
    for section in sections:
        for line, prose in zip(section.text.split("\n"), section.prose, strict=False):
            if prose and len(line.split()) >= 4:
                if len(line) <= SUMMARY_CHARS:
                    return line
                cut = [m.start() for m in _SENTENCE_END.finditer(line, 0, SUMMARY_CHARS)]
                if cut:
                    return line[: cut[-1]]
                return line[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"
    return ""


def _undecodable_lines(raw: bytes) -> list[int]:
    lines = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            lines.append(number)
            if len(lines) >= 5:
                break
    return lines


@dataclass
class ContentLoader:
    """Parses pages of one docs site (one parser, reused)."""

    site: DocsSite
    max_bytes: int = DEFAULT_MAX_BYTES
    dates: dict[Path, dt.date] = field(default_factory=dict)
    parser: MarkdownIt | None = None  # default: the site generator's parser

    def __post_init__(self) -> None:
        if self.parser is None:
            self.parser = build_parser(self.site.generator)

    @property
    def markdown(self) -> MarkdownIt:
        """The parser (built in ``__post_init__``)."""
        assert self.parser is not None
        return self.parser

    def read(self, file: ContentFile) -> str:
        """The file's text; :class:`ContentError` with every reason when it cannot be."""
        if file.size > self.max_bytes:
            raise ContentError(
                file.rel,
                f"the file is {file.size:,} bytes, over the {self.max_bytes:,}-byte limit "
                "per article (KB_MAX_ARTICLE_BYTES)",
            )
        try:
            raw = file.path.read_bytes()[: self.max_bytes + 1]
        except OSError as exc:
            raise ContentError(str(file.rel), f"cannot be read: {exc.strerror or exc}") from exc
        if b"\x00" in raw:
            raise ContentError(str(file.rel), "looks like a binary file (it holds NUL bytes)")
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            lines = _undecodable_lines(raw)
            where = ", ".join(str(n) for n in lines)
            raise ContentError(
                file.rel, f"is not UTF-8 text: undecodable bytes on line(s) {where}", lines[0]
            ) from exc

    def parse(self, file: ContentFile, text: str) -> Page:
        """Parse one page (raises ContentError for an unreadable front matter)."""
        if not text.strip():
            raise ContentError(str(file.rel), "the file is empty")
        try:
            toml_data, text = split_toml(text)
        except FrontMatterError as exc:
            raise ContentError(str(file.rel), str(exc), exc.line) from exc
        context = IncludeContext(
            page=file.path,
            docs_root=self.site.docs_root,
            mdx=self.site.mdx,
            rel=str(file.rel),
        )
        generator = self.site.generator
        if generator is not None:
            page = PageContext(
                page=file.path,
                rel=file.rel,
                docs_root=self.site.docs_root,
                options=self.site.options,
            )
            text = generator.preprocess(text, page)
            context.included |= page.included
            context.warnings.extend(
                ContentWarning(str(file.rel), message, line) for message, line in page.warnings
            )
        env: dict[str, Any] = {
            "includes": context,
            "api_stubs": self.site.format.value == "mkdocs",
            "site_options": self.site.options,
        }
        if self.site.autorefs:
            defined = {label.lower() for label in _DEFINITION.findall(text)}
            env["references"] = {
                k: v for k, v in undefined_references(text).items() if k.lower() not in defined
            }
        tokens = self.markdown.parse(text, env)
        data: dict[str, Any] = toml_data or {}
        if tokens and tokens[0].type == "front_matter":
            try:
                data = load_yaml(tokens[0].content, (tokens[0].map or [0])[0] + 1)
            except FrontMatterError as exc:
                raise ContentError(str(file.rel), str(exc), exc.line) from exc
        meta = read_meta(data)
        unclosed = toml_data is None and text.startswith(("---\n", "---\r\n"))
        unclosed = unclosed and not (tokens and tokens[0].type == "front_matter")
        if meta.excluded:
            raise ContentError(str(file.rel), f"not published: {meta.excluded}")
        parsed = split_sections(tokens, meta.title, self.site.slugger())
        warnings = [ContentWarning(str(file.rel), f"front matter {p}") for p in meta.problems]
        if unclosed:
            warnings.append(
                ContentWarning(
                    str(file.rel), "starts with '---' but no front matter closes; read as text", 1
                )
            )
        warnings.extend(context.warnings)
        article = self._article(file, meta, parsed.h1_title, parsed.sections)
        if not article.has_text:
            warnings.append(ContentWarning(str(file.rel), "no text to index on this page"))
        return Page(article, tokens, parsed.title_tokens, warnings, frozenset(context.included))

    def _article(
        self, file: ContentFile, meta: Meta, h1: str | None, sections: list[Section]
    ) -> Article:
        folder_page = file.slug == str(file.rel.parent) or file.slug == "index"
        fallback = file.rel.parent.name if folder_page and file.rel.parent.name else file.rel.stem
        title = meta.title or h1 or _prettify(fallback)
        if sections and not sections[0].heading:
            sections = [_retitled(s, title) for s in sections]
        updated = meta.updated or self.commit_date(file)
        return Article(
            slug=file.slug,
            title=title,
            summary=meta.summary or _summary(sections),
            tags=meta.tags,
            updated=updated or modified_date(file.path),
            questions=meta.questions,
            path=file.path,
            rel=str(file.rel),
            url=page_url(self.site, file.rel, file.slug, meta.raw),
            sections=sections,
        )

    def page(self, file: ContentFile) -> Page:
        """Read and parse one file."""
        return self.parse(file, self.read(file))

    def commit_date(self, file: ContentFile) -> dt.date | None:
        """The file's last commit date, when the tree is a git checkout."""
        if not self.dates:
            return None
        return self.dates.get(file.path) or self.dates.get(file.path.resolve())

    def outcome(self, file: ContentFile, cache: PageCache | None = None) -> Outcome:
        """The file parsed (or why it cannot be), from ``cache`` when nothing changed."""
        date = self.commit_date(file)
        found = cache.get(file, date) if cache is not None else None
        if found is not None:
            return found
        try:
            page = self.page(file)
            outcome: Outcome = Parsed(page.article, tuple(page.warnings), page.included)
        except ContentError as exc:
            outcome = Refused(f"line {exc.line}: {exc.message}" if exc.line else exc.message)
        if cache is not None:
            cache.put(file, date, outcome)
        return outcome


def _retitled(section: Section, title: str) -> Section:
    heading = title if section.level == 0 else section.heading
    return replace(section, heading=heading, path=(title, *section.path[1:]))


def open_site(source: ContentSource, files: list[ContentFile]) -> DocsSite:
    """The docs site of ``source``, sniffing the files when no config names it."""
    return detect_site(
        source.content_dir,
        docs_format=source.docs_format,
        docs_root=source.docs_root,
        site_url=source.site_url,
        sample=sample_texts(f.path for f in files) if source.docs_format is DocsFormat.AUTO else (),
    )


def make_loader(source: ContentSource, files: list[ContentFile]) -> ContentLoader:
    """A loader for ``source`` with the tree's commit dates read once."""
    return ContentLoader(
        site=open_site(source, files),
        max_bytes=source.max_bytes,
        dates=last_commit_dates(source.content_dir),
    )


def load_content(
    source: ContentSource | Path,
    found: Discovery | None = None,
    cache: PageCache | None = None,
) -> LoadResult:
    """Load every page of a docs tree (``found``: its files when already discovered;
    ``cache``: pages of earlier builds to reuse, see ``ingest.page_cache``)."""
    if isinstance(source, Path):
        source = ContentSource(content_dir=source)
    if not source.content_dir.is_dir():
        raise ContentError(source.content_dir, "content folder does not exist")
    found = found or discover(source.content_dir, source.exclude)
    loader = make_loader(source, found.files)
    found = unpublished_removed(found, loader.site)
    if cache is not None:
        cache.use_site(loader.site, loader.max_bytes)
        cache.keep_only(found.files)
    result = LoadResult(
        site=loader.site,
        articles=[],
        skipped=list(found.skipped),
        warnings=list(found.warnings),
        files=len(found.files) + len(found.skipped),
        pages=found.files,
    )
    for file in found.files:
        outcome = loader.outcome(file, cache)
        if isinstance(outcome, Refused):
            result.skipped.append(Skipped(str(file.rel), (outcome.reason,)))
            continue
        result.articles.append(outcome.article)
        result.warnings.extend(outcome.warnings)
        result.included |= outcome.included
    return result


def unpublished_removed(found: Discovery, site: DocsSite) -> Discovery:
    """``found`` without the files the site's generator never publishes as pages
    (Mintlify's ``snippets/``, VitePress's ``srcExclude`` ...)."""
    patterns = list(site.generator.exclude) if site.generator is not None else []
    extra = site.options.get("exclude")
    if isinstance(extra, list | tuple):
        patterns += [str(p) for p in extra]
    if not patterns:
        return found
    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    kept = [f for f in found.files if not spec.match_file(str(f.rel))]
    return Discovery(files=kept, skipped=found.skipped, warnings=found.warnings)


def load_article(path: Path, text: str | None = None) -> Article:
    """Parse one file on its own, by plain Markdown rules (tests and tools)."""
    rel = PurePosixPath(path.name)
    slugs, _ = assign_slugs([rel])
    size = len(text.encode()) if text is not None else path.stat().st_size
    file = ContentFile(path=path, rel=rel, slug=slugs[rel], size=size)
    root = path.parent.resolve()
    site = detect_site(root, docs_format=DocsFormat.GFM, docs_root=root)
    loader = ContentLoader(site=site, max_bytes=max(size, DEFAULT_MAX_BYTES))
    return loader.parse(file, loader.read(file) if text is None else text).article
