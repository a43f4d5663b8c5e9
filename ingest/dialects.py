"""Which site generator a docs tree is written for, and what that decides.

Detected from the generator's config file in the content folder or one of its parents
up to the docs root (``mkdocs.yml``, ``docusaurus.config.*``, ``hugo.toml`` ...); when
there is none (a ``docs/`` folder copied on its own), from the syntax the files use; else
plain GitHub-flavoured Markdown. ``KB_DOCS_FORMAT`` overrides the detection.

The dialect decides how headings become anchors, how a file path becomes a page URL, and
the few syntaxes that mean different things in different generators (``:::``, MDX
``import`` lines, undefined ``[text][ref]`` links); everything unambiguous is understood
in every dialect.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from ingest.anchors import AnchorSlugger, Slugger, TocSlugger
from ingest.generators import Generator, jekyll, mintlify, myst, starlight, vitepress
from ingest.git import work_tree

SNIFF_FILES = 200
SNIFF_BYTES = 200_000


class DocsFormat(StrEnum):
    """The generator a docs tree is written for (``auto``: detect it)."""

    AUTO = "auto"
    MKDOCS = "mkdocs"
    DOCUSAURUS = "docusaurus"
    HUGO = "hugo"
    VITEPRESS = "vitepress"
    STARLIGHT = "starlight"
    MYST = "myst"
    JEKYLL = "jekyll"
    MINTLIFY = "mintlify"
    GFM = "gfm"


GENERATORS: dict[DocsFormat, Generator] = {
    DocsFormat.VITEPRESS: vitepress.GENERATOR,
    DocsFormat.STARLIGHT: starlight.GENERATOR,
    DocsFormat.MYST: myst.GENERATOR,
    DocsFormat.MINTLIFY: mintlify.GENERATOR,
    DocsFormat.JEKYLL: jekyll.GENERATOR,  # last: ``_config.yml`` is the least specific name
}


@dataclass(frozen=True)
class DocsSite:
    """A docs tree: its format, where it lives and where it is published."""

    format: DocsFormat
    content_dir: Path
    docs_root: Path  # includes may read files anywhere under here, nowhere else
    site_url: str | None = None
    use_directory_urls: bool = True  # MkDocs' setting
    config_file: Path | None = None
    detected_by: str = "default"
    # What the generator's config decides (``base``, ``cleanUrls``, ``permalink`` ...),
    # read by its module in ``ingest.generators``.
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def generator(self) -> Generator | None:
        """The module that knows this generator's rules (None for the first four, whose
        rules live in ``ingest.anchors``, ``ingest.urls`` and ``ingest.blocks``)."""
        return GENERATORS.get(self.format)

    def slugger(self) -> Slugger:
        """A fresh anchor slugger for one page, by the generator's rules."""
        if self.generator is not None:
            return self.generator.slugger()
        return TocSlugger() if self.format is DocsFormat.MKDOCS else AnchorSlugger()

    @property
    def mdx(self) -> bool:
        """Whether ``.md`` files are MDX (Docusaurus parses them so)."""
        if self.generator is not None:
            return self.generator.mdx
        return self.format is DocsFormat.DOCUSAURUS

    @property
    def reason(self) -> str:
        """Why this dialect was assumed, for the log and the ingest report."""
        if self.detected_by == "KB_DOCS_FORMAT":
            return "set by KB_DOCS_FORMAT"
        if self.detected_by == "syntax":
            return "no generator config found; the files use its syntax"
        if self.detected_by == "default":
            return "no generator config and no generator syntax found; plain GitHub Markdown"
        return f"found {self.detected_by}"

    @property
    def autorefs(self) -> bool:
        """Whether ``[text][identifier]`` links resolve without a definition (mkdocstrings'
        autorefs)."""
        return self.format is DocsFormat.MKDOCS


_CONFIGS: tuple[tuple[DocsFormat, tuple[str, ...]], ...] = (
    (DocsFormat.MKDOCS, ("mkdocs.yml", "mkdocs.yaml")),
    (
        DocsFormat.DOCUSAURUS,
        tuple(f"docusaurus.config.{ext}" for ext in ("js", "ts", "mjs", "cjs", "mts", "cts")),
    ),
    (DocsFormat.HUGO, ("hugo.toml", "hugo.yaml", "hugo.yml", "hugo.json")),
)
_HUGO_LEGACY = ("config.toml", "config.yaml", "config.yml")
_HUGO_DIRS = ("archetypes", "layouts", "themes")

# Syntax only one generator uses, for trees copied without their config (line starts).
_SIGNALS: tuple[tuple[DocsFormat, re.Pattern[str]], ...] = (
    (
        DocsFormat.MKDOCS,
        re.compile(
            r"^(?:!!! ?\w|\?\?\?\+? ?\w|/{3,} ?\w|=== \"|::: [\w.]+\.[\w.]+\s*$|--8<--"
            r"|\{\* .+ \*\}|#{1,6} .*\{ ?#[\w-]+ ?\}\s*$)",
            re.M,
        ),
    ),
    (
        DocsFormat.DOCUSAURUS,
        re.compile(
            r"^(?:import \w+ from ['\"]@(?:theme|site)|:::(?:note|tip|info|warning|danger|"
            r"caution)\b|<TabItem\b|sidebar_(?:label|position):)",
            re.M,
        ),
    ),
    (DocsFormat.HUGO, re.compile(r"^\{\{[<%] |\{\{< ref |\A\+\+\+\s*$", re.M)),
    *((fmt, g.signals) for fmt, g in GENERATORS.items() if g.signals is not None),
)


def repository_root(folder: Path) -> Path:
    """The git work tree holding ``folder``, else ``folder`` itself."""
    return work_tree(folder) or folder


def _config_in(folder: Path) -> tuple[DocsFormat, Path] | None:
    for fmt, names in _CONFIGS:
        for name in names:
            if (folder / name).is_file():
                return fmt, folder / name
    for fmt, generator in GENERATORS.items():
        for name in generator.config_names:
            if (folder / name).is_file() and generator.claims(folder / name):
                return fmt, folder / name
    for name in _HUGO_LEGACY:
        if (folder / name).is_file() and any((folder / d).is_dir() for d in _HUGO_DIRS):
            return DocsFormat.HUGO, folder / name
    return None


def find_config(content_dir: Path, docs_root: Path) -> tuple[DocsFormat, Path] | None:
    """The generator config nearest to the content folder, up to the docs root."""
    folder = content_dir
    while True:
        found = _config_in(folder)
        if found is not None:
            return found
        if folder == docs_root or folder.parent == folder or not folder.is_relative_to(docs_root):
            return None
        folder = folder.parent


def sniff(texts: Iterable[str]) -> DocsFormat | None:
    """The generator whose own syntax the texts use most, if any."""
    votes: Counter[DocsFormat] = Counter()
    for text in texts:
        for fmt, pattern in _SIGNALS:
            if pattern.search(text):
                votes[fmt] += 1
    if not votes:
        return None
    (best, count), *rest = votes.most_common()
    return best if not rest or count > rest[0][1] else None


class _LenientLoader(yaml.SafeLoader):
    """Safe YAML that reads unknown tags (``!!python/name:``, ``!ENV``) as null."""


def _ignore_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> None:
    return None


_LenientLoader.add_multi_constructor("", _ignore_tag)


def _mkdocs_settings(config: Path) -> dict[str, Any]:
    try:
        data = yaml.load(config.read_text(encoding="utf-8"), Loader=_LenientLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def detect_site(
    content_dir: Path,
    *,
    docs_format: DocsFormat = DocsFormat.AUTO,
    docs_root: Path | None = None,
    site_url: str | None = None,
    sample: Iterable[str] = (),
) -> DocsSite:
    """The docs site a content folder belongs to (``sample``: file texts to sniff)."""
    content_dir = content_dir.resolve()
    root = (docs_root or repository_root(content_dir)).resolve()
    if not content_dir.is_relative_to(root):
        root = content_dir
    found = find_config(content_dir, root)
    fmt, config, how = DocsFormat.GFM, None, "default"
    if docs_format is not DocsFormat.AUTO:
        fmt, how = docs_format, "KB_DOCS_FORMAT"
        config = found[1] if found is not None and found[0] is docs_format else None
    elif found is not None:
        fmt, config = found
        how = config.relative_to(root).as_posix() if config.is_relative_to(root) else config.name
    else:
        sniffed = sniff(sample)
        if sniffed is not None:
            fmt, how = sniffed, "syntax"
    directory_urls = True
    if fmt is DocsFormat.MKDOCS and config is not None:
        directory_urls = _mkdocs_settings(config).get("use_directory_urls", True) is not False
    generator = GENERATORS.get(fmt)
    if generator is not None and config is None:  # detected by syntax or named: look wider
        config = next(
            (
                folder / name
                for folder in (content_dir, *content_dir.parents)
                if folder.is_relative_to(root)
                for name in generator.config_names
                if (folder / name).is_file()
            ),
            None,
        )
    options = generator.read_options(config, content_dir) if generator is not None else {}
    return DocsSite(
        format=fmt,
        content_dir=content_dir,
        docs_root=root,
        site_url=site_url.rstrip("/") if site_url else None,
        use_directory_urls=directory_urls,
        config_file=config,
        detected_by=how,
        options=options,
    )


def sample_texts(paths: Iterable[Path]) -> list[str]:
    """The beginnings of up to ``SNIFF_FILES`` files, for :func:`sniff`."""
    out: list[str] = []
    for path in paths:
        if len(out) >= SNIFF_FILES:
            break
        try:
            with path.open("rb") as handle:
                out.append(handle.read(SNIFF_BYTES).decode("utf-8", "replace"))
        except OSError:
            continue
    return out
