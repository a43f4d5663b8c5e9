"""Mintlify: ``docs.json`` (legacy ``mint.json``) at the content root, pages in ``.mdx``.

- Detection: a ``docs.json``/``mint.json`` that is Mintlify's (a ``navigation`` or a
  Mintlify ``$schema``); without it, Mintlify-only components (``<CardGroup>``,
  ``<ParamField>``, ``<CodeGroup>`` ...) or ``/snippets/`` imports.
- Components (``ingest.generators.components``): callouts ``<Note>``, ``<Warning>``,
  ``<Tip>``, ``<Info>``, ``<Check>``, ``<Danger>`` keep their text and no default title;
  ``<Step title>``, ``<Accordion title>``, ``<Tab title>``, ``<Card title>``, ``<Update
  label description>``, ``<Frame caption>``, ``<Expandable title>`` keep their titles as
  lines; ``<ParamField query="limit" type="number" required>`` and ``<ResponseField
  name>`` show ``limit (number, required)`` and take the id ``param-limit``;
  ``<Visibility for="agents">`` is left out (the web page shows the humans' content);
  ``<Tooltip>`` keeps its text, ``<Icon>`` nothing. A code block's title from its info
  string (```` ```bash npm ```` -> ``npm``) is kept as a line before the code.
- Snippets: ``import X from '/snippets/x.mdx'`` + ``<X />`` are resolved by
  ``ingest.includes``; ``snippets/`` is never a page.
- Anchors: Mintlify's own rule (its docs, "Automatic anchor IDs"): lower-case, whitespace
  and periods to hyphens, straight apostrophes to ``’``, slashes, ampersands and ``$``
  kept, other punctuation dropped; repeats get ``-2``, ``-3``.
- URLs: the file path without its extension (``index`` is its folder), no trailing slash.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from ingest.anchors import AnchorSlugger
from ingest.generators import Generator, Options, PageContext
from ingest.generators.components import COMMON, Component, jsx_plugin

_DROP = re.compile(r"[^\w\s/&$’-]")
_SPACE = re.compile(r"\s")
_SNIPPET_IMPORT = re.compile(
    r"""^(?P<head>import\s+\w+\s+from\s+['"])/(?P<path>[^'"]+\.mdx?)(?P<tail>['"])""", re.M
)
_FENCE_FLAGS = frozenset(
    {"lines", "wrap", "expandable", "twoslash", "linenumbers", "showlinenumbers", "icon"}
)

TABLE: dict[str, Component] = {
    **COMMON,
    **{name: Component(callout=name.lower()) for name in ("Note", "Warning", "Tip", "Info")},
    "Check": Component(callout="check"),
    "Danger": Component(callout="danger"),
    "Callout": Component(callout="note"),
    "CodeGroup": Component(),
    "Step": Component(title=("title",)),
    "Accordion": Component(title=("title",), lines=("description",)),
    "AccordionGroup": Component(),
    "Expandable": Component(title=("title",)),
    "Tab": Component(title=("title",)),
    "ParamField": Component(field=True, title=("path", "query", "body", "header", "name")),
    "ResponseField": Component(field=True, title=("name",)),
    "CardGroup": Component(),
    "Columns": Component(),
    "Frame": Component(title=("caption",)),
    "Prompt": Component(lines=("description",)),
    "Visibility": Component(hidden=(("for", "agents"),)),
    "Update": Component(title=("label",), lines=("description",)),
    "Badge": Component(inline=True),
    "Tree": Component(),
    "Tree.Folder": Component(title=("name",)),
    "Tree.File": Component(title=("name",)),
    "Tile": Component(title=("title",), lines=("description",)),
    "Panel": Component(),
    "View": Component(title=("title",)),
    "RequestExample": Component(),
    "ResponseExample": Component(),
    "Color": Component(),
    "Color.Item": Component(title=("name",), lines=("value",)),
}


def mintlify_slug(heading: str) -> str:
    """Mintlify's anchor for a heading before de-duplication."""
    text = heading.strip().lower().replace("'", "’").replace(".", "-")
    return _SPACE.sub("-", _DROP.sub("", text))


class MintlifySlugger(AnchorSlugger):
    """Unique Mintlify anchors in one page: a repeat gets ``-2``, ``-3`` ..."""

    def slug(self, heading: str) -> str:
        base = mintlify_slug(heading)
        candidate, count = base, 1
        while candidate in self._seen:
            count += 1
            candidate = f"{base}-{count}"
        self._seen[candidate] = 0
        return candidate


def field_id(name: str) -> str:
    """The id of a ``<ParamField>``/``<ResponseField>`` (``param-thumbnails-background``)."""
    return f"param-{mintlify_slug(name)}"


def fence_label(info: str) -> str:
    """The title a code block shows: its info string after the language, without
    flags (```` ```bash npm ```` -> ``npm``, ```` ```js app.js icon="x" lines ````)."""
    try:
        words = shlex.split(info.replace("{", " {").replace("}", "} "), posix=True)
    except ValueError:
        words = info.split()
    kept = [
        w
        for w in words[1:]
        if "=" not in w and not w.startswith("{") and w.lower() not in _FENCE_FLAGS
    ]
    return " ".join(kept).strip()


def preprocess(text: str, context: PageContext) -> str:
    """Site-absolute snippet imports (``'/snippets/x.mdx'``) are from the folder holding
    ``docs.json``: made relative to the page, so includes find them wherever the
    repository root is."""
    content_dir = context.page.parents[len(context.rel.parts) - 1]
    page_dir = context.page.parent

    def relative(match: re.Match[str]) -> str:
        target = os.path.relpath(content_dir / match.group("path"), page_dir)
        return f"{match.group('head')}{Path(target).as_posix()}{match.group('tail')}"

    return _SNIPPET_IMPORT.sub(relative, text)


def claims(config: Path) -> bool:
    """A ``docs.json``/``mint.json`` is Mintlify's when it has a navigation (or says so)."""
    try:
        text = config.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    try:
        data = json.loads(text)
    except ValueError:
        return "mintlify" in text.lower()
    if not isinstance(data, dict):
        return False
    return "navigation" in data or "mintlify" in str(data.get("$schema", "")).lower()


def read_options(config: Path | None, content_dir: Path) -> dict[str, Any]:
    """Nothing in ``docs.json`` changes a page URL or anchor; its name is kept."""
    return {"config": config.name} if config is not None else {}


def site_path(rel: PurePosixPath, meta: Mapping[str, Any], options: Options) -> str:
    """``guides/setup.mdx`` -> ``guides/setup``; ``cli/index.mdx`` -> ``cli``."""
    stem = rel.with_suffix("")
    if stem.name.lower() == "index":
        stem = stem.parent
    path = str(stem)
    return "" if path == "." else path


GENERATOR = Generator(
    name="mintlify",
    config_names=("docs.json", "mint.json"),
    claims=claims,
    signals=re.compile(
        r"^\s*(?:<(?:CardGroup|AccordionGroup|ParamField|ResponseField|CodeGroup|Expandable)\b"
        r"|import \w+ from ['\"]/snippets/)",
        re.M,
    ),
    read_options=read_options,
    slugger=MintlifySlugger,
    site_path=site_path,
    plugin=jsx_plugin(TABLE, field_id=field_id, fence_label=fence_label),
    preprocess=preprocess,
    mdx=True,
    exclude=("snippets/",),
)
