"""Astro Starlight: ``astro.config.*`` using ``@astrojs/starlight``, pages in
``src/content/docs`` (``.md`` and ``.mdx``).

- Detection: an ``astro.config.*`` that mentions ``@astrojs/starlight``; without it,
  imports from ``@astrojs/starlight/components`` or its own components.
- Components (``ingest.generators.components``): ``<Aside type="tip" title="X">`` is an
  admonition (its explicit title kept, the default "Note" not), ``<TabItem label>``,
  ``<Card title>``, ``<LinkCard title description>``, ``<Code title>`` keep their text as
  lines, ``<Steps>``/``<FileTree>``/``<CardGrid>`` keep their Markdown, ``<Badge text>``
  its text, ``<Icon>`` nothing; ``:::note[Title]`` asides are the shared container rule.
  A code block's ``title="file.js"`` is kept as a line before its code.
- Anchors: Astro's ``rehypeHeadingIds``, github-slugger on the heading's text (code
  spans included); repeats get ``-1``, ``-2``.
- URLs: Astro's content slug, each path segment through github-slugger (lower-cased),
  ``index`` is its folder, a front-matter ``slug`` replaces it; a trailing slash unless
  ``trailingSlash: 'never'``. ``base`` is part of the site URL (``KB_SITE_URL``), as the
  docs' own links write it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from ingest.anchors import anchor_base
from ingest.generators import Generator, Options
from ingest.generators.components import COMMON, Component, jsx_plugin

CONFIG_NAMES = tuple(f"astro.config.{ext}" for ext in ("mjs", "ts", "js", "mts", "cjs", "cts"))
_BASE = re.compile(r"""^\s*base\s*:\s*['"]([^'"]*)['"]""", re.M)
_TRAILING = re.compile(r"""^\s*trailingSlash\s*:\s*['"](always|never|ignore)['"]""", re.M)
# Expressive Code meta: quoted text markers, /regex/ markers and {ranges} are skipped.
_META = re.compile(
    r"""(?:^|\s)title=(?:"([^"]*)"|'([^']*)'|(\S+))|'[^']*'|"[^"]*"|/(?:\\.|[^/])*/|\{[^}]*\}"""
)

TABLE: dict[str, Component] = {
    **COMMON,
    "Aside": Component(callout="note", title=("title",)),
    "TabItem": Component(title=("label",)),
    "CardGrid": Component(),
    "LinkCard": Component(title=("title",), lines=("description",)),
    "LinkButton": Component(),
    "FileTree": Component(),
    "Code": Component(title=("title",)),
}


def claims(config: Path) -> bool:
    """An Astro config is Starlight's when it uses the ``@astrojs/starlight`` integration."""
    try:
        return "@astrojs/starlight" in config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False


def read_options(config: Path | None, content_dir: Path) -> dict[str, Any]:
    """``base`` and ``trailingSlash`` from the Astro config (read as text)."""
    if config is None:
        return {"trailing_slash": "ignore"}
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    base = _BASE.search(text)
    trailing = _TRAILING.search(text)
    return {
        "base": base.group(1) if base else "/",
        "trailing_slash": trailing.group(1) if trailing else "ignore",
    }


def site_path(rel: PurePosixPath, meta: Mapping[str, Any], options: Options) -> str:
    """``guides/Authoring-Content.mdx`` -> ``guides/authoring-content/``."""
    slug = meta.get("slug")
    if isinstance(slug, str) and slug.strip():
        path = slug.strip().strip("/")
    else:
        parts = [*rel.parent.parts, rel.stem]
        parts = [p for p in parts if p != "."]
        if parts and parts[-1].lower() == "index":
            parts.pop()
        path = "/".join(anchor_base(p) for p in parts)
    if not path or options.get("trailing_slash") == "never":
        return path
    return f"{path}/"


def fence_label(info: str) -> str:
    """A code block's ``title="file.js"`` (Expressive Code's frame title)."""
    for match in _META.finditer(info):
        title = match.group(1) or match.group(2) or match.group(3)
        if title:
            return title.strip()
    return ""


GENERATOR = Generator(
    name="starlight",
    config_names=CONFIG_NAMES,
    claims=claims,
    signals=re.compile(
        r"^(?:import \{[^}]*\} from ['\"]@astrojs/starlight/components['\"]"
        r"|<(?:Aside|LinkCard|CardGrid|FileTree)\b)",
        re.M,
    ),
    read_options=read_options,
    site_path=site_path,
    plugin=jsx_plugin(TABLE, fence_label=fence_label),
)
