"""A parsed page -> HTML for the demo site, from the very tokens the index was built from.

Headings carry the ids the index links to (set when the page was split into sections);
admonitions, containers and tabs render as callouts; generator-only tokens (API stubs,
shortcodes, includes that could not be resolved) render as nothing. Raw HTML is
sanitised with ``nh3`` (scripts, event handlers and ``javascript:`` URLs removed);
markdown-it already refuses ``javascript:``/``vbscript:``/``data:`` link targets. Links
between pages of the docs (``../concepts/fields.md#x``) point at their demo pages.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import OptionsDict

from ingest.articles import Page
from ingest.markdown import container_title
from ingest.sections import inline_text
from ingest.urls import demo_url, section_url

_ALLOWED_TAGS = nh3.ALLOWED_TAGS - {"img", "area", "map"}
_BREAK = re.compile(r"^<br\s*/?>$", re.I)
_PAGE_LINK = re.compile(r"^(?P<path>[^:?#]+\.(?:md|mdx|markdown))(?P<anchor>#.*)?$", re.I)


@dataclass(frozen=True)
class TocEntry:
    level: int
    heading: str
    anchor: str


@dataclass(frozen=True)
class RenderedBody:
    html: str
    toc: list[TocEntry]
    words: int


Rule = Any  # markdown-it render rules are untyped callables


def _html_block(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    return nh3.clean(tokens[idx].content, tags=_ALLOWED_TAGS) + "\n"


def _html_inline(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    return "<br>" if _BREAK.match(tokens[idx].content.strip()) else ""


def _nothing(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    return ""


def _callout_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    token = tokens[idx]
    kind = (token.info.strip().split(" ", 1)[0].split("[", 1)[0] or "note").lower()
    title = container_title(token.info, token.markup) or kind.title()
    return (
        f'<div class="admonition {escapeHtml(kind)}">'
        f'<p class="admonition-title">{escapeHtml(title)}</p>\n'
    )


def _div_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    return "</div>\n"


def _tab_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    title = escapeHtml(str(tokens[idx].meta.get("title", "")))
    return f'<div class="tab"><p class="tab-title">{title}</p>\n'


def _shortcode(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    title = tokens[idx].meta.get("title")
    return f'<p class="admonition-title">{escapeHtml(str(title))}</p>\n' if title else ""


def _heading_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    anchor = tokens[idx - 2].attrGet("id") if idx >= 2 else None
    link = (
        f'<a class="anchor" href="#{escapeHtml(str(anchor))}" aria-hidden="true" '
        'tabindex="-1">#</a>'
        if anchor
        else ""
    )
    return f"{link}</{tokens[idx].tag}>\n"


def _link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    token = tokens[idx]
    href = str(token.attrGet("href") or "")
    attrs = dict(token.attrs)  # a copy: the page's tokens also serve its Markdown
    if href.startswith(("http://", "https://", "//")):
        attrs["rel"] = "noopener noreferrer"
    elif (match := _PAGE_LINK.match(href)) and isinstance(env, dict):
        target = posixpath.normpath(
            posixpath.join(posixpath.dirname(env.get("rel", "")), match.group("path"))
        )
        slug = env.get("slugs", {}).get(target)
        if slug is not None:
            anchor = (match.group("anchor") or "#")[1:]
            attrs["href"] = section_url(demo_url(slug), anchor)
    return self.renderToken([token.copy(attrs=attrs)], 0, options, env)


_RULES: dict[str, Rule] = {
    "html_block": _html_block,
    "html_inline": _html_inline,
    "api_stub": _nothing,
    "include": _nothing,
    "include_missing": _nothing,
    "shortcode": _shortcode,
    "container_admonition_open": _callout_open,
    "container_admonition_close": _div_close,
    "container_blocks_open": _callout_open,
    "container_blocks_close": _div_close,
    "tab_open": _tab_open,
    "tab_close": _div_close,
    "heading_close": _heading_close,
    "link_open": _link_open,
}


def add_site_rules(md: MarkdownIt) -> MarkdownIt:
    """Teach a parser's renderer the demo site's rules (in place; returns it)."""
    for name, rule in _RULES.items():
        md.add_render_rule(name, rule)
    return md


def render_page(md: MarkdownIt, page: Page, slugs: Mapping[str, str]) -> RenderedBody:
    """HTML of a page body (its title H1, shown by the page header, left out)."""
    tokens = list(page.tokens)
    if page.title_tokens is not None:
        start, end = page.title_tokens
        del tokens[start:end]
    toc = [
        TocEntry(int(t.tag[1]), inline_text(tokens[i + 1]), str(t.attrGet("id") or ""))
        for i, t in enumerate(tokens)
        if t.type == "heading_open" and t.level == 0 and t.attrGet("id")
    ]
    words = sum(len(s.text.split()) for s in page.article.sections)
    env = {"rel": page.article.rel, "slugs": slugs}
    return RenderedBody(html=md.renderer.render(tokens, md.options, env), toc=toc, words=words)
