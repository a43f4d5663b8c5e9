"""The one Markdown parser: markdown-it-py with the plugins that read generator syntax.

Indexing and the demo site share it, so what is indexed, quoted and rendered comes from a
single parse. Built from mdit-py-plugins wherever they cover the syntax:

- ``gfm_plugin``: tables, strikethrough, task lists, GitHub alerts (``> [!NOTE]``),
  autolinks, footnotes, YAML front matter;
- ``container_plugin``: Docusaurus ``:::tip Title ... :::`` and pymdownx blocks
  ``/// note | Title ... ///``;
- ``attrs_plugin``: inline attributes such as autorefs anchors ``[](){#id}``;
- ``deflist_plugin``: definition lists;

plus ``ingest.blocks`` (admonitions, tabs, API stubs, Hugo shortcodes, include directives),
``ingest.includes`` (resolving them) and, here, heading ids (``## Title { #id }``),
inline template expressions and icon shortcodes, which disappear.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.normalize_url import normalizeLink
from markdown_it.common.utils import normalizeReference
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from mdit_py_plugins.attrs import attrs_plugin
from mdit_py_plugins.attrs.parse import ParseError
from mdit_py_plugins.attrs.parse import parse as parse_attrs
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.gfm import gfm_plugin

from ingest.blocks import blocks_plugin
from ingest.generators import Generator
from ingest.includes import includes_plugin

_TRAILING_ATTRS = re.compile(r"(?:^|\s)(\{:?\s*[#.][^{}]*\})\s*$")
_CONTAINER_NAME = re.compile(r"^\s*(?P<name>[A-Za-z][\w-]*)(?P<rest>.*)$")
_BRACKET_TITLE = re.compile(r"^\[(?P<title>[^\]]*)\]")
_BLOCKS_PARAMS = re.compile(r"^\s*(?P<name>[A-Za-z][\w-]*)\s*(?:\|\s*(?P<title>.*?))?\s*$")
_FULL_REFERENCE = re.compile(r"\]\[([^\[\]\n]+)\]")
_COLLAPSED_REFERENCE = re.compile(r"\[([^\[\]\n]+)\]\[\]")
_ICON = re.compile(r":(?:material|octicons|fontawesome|simple)-[\w-]+:")
ADMONITION_TYPES = frozenset(
    {
        "note",
        "tip",
        "info",
        "warning",
        "danger",
        "caution",
        "important",
        "success",
        "check",
        "failure",
        "bug",
        "example",
        "quote",
        "abstract",
        "question",
        "hint",
        "attention",
        "error",
        "seealso",
        "todo",
        "details",
        "secondary",
        "tab",
    }
)


def container_title(info: str, marker: str) -> str:
    """The explicit title of a ``:::type Title`` / ``:::type[Title]`` or
    ``/// type | Title`` container ("" when it has none)."""
    if marker.startswith("/"):
        blocks = _BLOCKS_PARAMS.match(info)
        return (blocks.group("title") or "").strip().strip('"') if blocks else ""
    match = _CONTAINER_NAME.match(info)
    if match is None:
        return ""
    rest = match.group("rest").strip()
    bracket = _BRACKET_TITLE.match(rest)
    if bracket:
        return bracket.group("title").strip()
    return rest.strip('"').strip()


def _colon_container(params: str, markup: str) -> bool:
    return _CONTAINER_NAME.match(params) is not None


def _blocks_container(params: str, markup: str) -> bool:
    return _BLOCKS_PARAMS.match(params) is not None


def _block_attrs(state: StateCore) -> None:
    """Trailing attribute lists (Python-Markdown's attr_list, Docusaurus and Hugo heading
    ids): ``## Title { #id }`` gives the heading its id, ``Paragraph text {#id}`` its
    block; the braces leave the text either way."""
    tokens = state.tokens
    for i in range(1, len(tokens)):
        inline = tokens[i]
        if inline.type != "inline" or not inline.content.endswith("}"):
            continue
        match = _TRAILING_ATTRS.search(inline.content)
        if match is None:
            continue
        braces = match.group(1).replace("{:", "{", 1)
        try:
            _, attrs = parse_attrs(braces)
        except ParseError:
            continue
        if not attrs:
            continue
        inline.content = inline.content[: match.start()].rstrip()
        opening = tokens[i - 1]
        if attrs.get("id") and opening.nesting == 1:
            opening.attrSet("id", attrs["id"])
            opening.meta["explicit_id"] = True


def _template(state: StateInline, silent: bool) -> bool:
    """``{{ expression }}``, ``{{< shortcode >}}``, ``{{% shortcode %}}`` in running text:
    template syntax the reader never sees; dropped."""
    src, pos = state.src, state.pos
    if not src.startswith("{{", pos):
        return False
    end = src.find("}}", pos + 2)
    if end < 0:
        return False
    state.pos = end + 2
    return True


def _icon(state: StateInline, silent: bool) -> bool:
    """``:material-check:``-style icon shortcodes: dropped."""
    if state.src[state.pos] != ":":
        return False
    match = _ICON.match(state.src, state.pos)
    if match is None:
        return False
    state.pos = match.end()
    return True


def build_parser(generator: Generator | None = None) -> MarkdownIt:
    """The parser with every plugin (and ``generator``'s own rules); per-page behaviour
    comes through ``env``."""
    md = MarkdownIt("commonmark", {"html": True}).use(gfm_plugin, front_matter=True)
    md.use(deflist_plugin)
    md.use(attrs_plugin, after=("link_close", "image"))
    md.use(blocks_plugin)
    md.use(container_plugin, name="admonition", marker=":", validate=_colon_container)
    md.use(container_plugin, name="blocks", marker="/", validate=_blocks_container)
    md.use(includes_plugin)
    md.core.ruler.after("includes", "block_attrs", _block_attrs)
    md.inline.ruler.after("text", "template", _template)
    md.inline.ruler.after("template", "icon", _icon)
    if generator is not None:
        generator.plugin(md)
    return md


def undefined_references(text: str) -> dict[str, dict[str, str]]:
    """Link definitions for every ``[text][label]`` / ``[label][]`` label used, so
    mkdocstrings-style cross references render as their text instead of brackets."""
    labels = _FULL_REFERENCE.findall(text) + _COLLAPSED_REFERENCE.findall(text)
    target = {"href": normalizeLink("#"), "title": ""}
    return {normalizeReference(label): dict(target) for label in labels}


ParseFn = Callable[[str, dict[str, Any]], list[Any]]
