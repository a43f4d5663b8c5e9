"""What each site generator decides, one module per generator.

A generator module is self-contained (it never imports ``ingest.dialects``) and exposes
a :class:`Generator`: the config files that name it, syntax that betrays it in a tree
copied without its config, the settings it reads from its config, its heading slugger,
its rule from a file path to a page URL, the markdown-it rules for its own syntax, and a
text pass for template languages that are not Markdown at all (Liquid).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from markdown_it import MarkdownIt

from ingest.anchors import AnchorSlugger, Slugger

Options = Mapping[str, Any]
ReadOptions = Callable[[Path | None, Path], dict[str, Any]]
SitePath = Callable[[PurePosixPath, Mapping[str, Any], Options], str]
Plugin = Callable[[MarkdownIt], None]
Preprocess = Callable[[str, "PageContext"], str]


@dataclass(frozen=True)
class PageContext:
    """What a text pass may know about the page it rewrites."""

    page: Path  # the file on disk
    rel: PurePosixPath  # relative to the content folder
    docs_root: Path  # files may be read under here, nowhere else
    options: Options = field(default_factory=dict)
    included: set[Path] = field(default_factory=set)  # files read (their changes count)
    warnings: list[tuple[str, int | None]] = field(default_factory=list)  # (message, line)


def no_options(config: Path | None, content_dir: Path) -> dict[str, Any]:
    return {}


def github_slugger() -> Slugger:
    return AnchorSlugger()


def file_path(rel: PurePosixPath, meta: Mapping[str, Any], options: Options) -> str:
    return str(rel)


def no_plugin(md: MarkdownIt) -> None:
    return None


def no_preprocess(text: str, context: PageContext) -> str:
    return text


@dataclass(frozen=True)
class Generator:
    """One site generator's rules (see the module docstring)."""

    name: str
    config_names: tuple[str, ...] = ()  # relative to a folder: "mkdocs.yml", ".vitepress/config.ts"
    signals: re.Pattern[str] | None = None  # syntax only this generator uses (line starts)
    read_options: ReadOptions = no_options
    slugger: Callable[[], Slugger] = github_slugger
    site_path: SitePath = file_path
    plugin: Plugin = no_plugin
    preprocess: Preprocess = no_preprocess
    mdx: bool = False  # whether ``.md`` files are MDX too
    claims: Callable[[Path], bool] = lambda config: True  # the config file is really ours
    # Files under the content folder that the generator never publishes as pages
    # (gitignore syntax, added to KB_EXCLUDE; ``options["exclude"]`` adds the config's).
    exclude: tuple[str, ...] = ()
