"""Article Markdown -> HTML for the demo site, with the index's heading anchors.

The token stream is the indexer's own (``ingest.sections.markdown_parser``), so headings
and their order are exactly the ones the index saw; each gets ``id="<anchor>"`` from the
article's parsed sections. Raw HTML in an article is escaped and shown as text, never
executed; markdown-it already refuses ``javascript:``/``vbscript:``/``data:`` link targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import OptionsDict

from ingest.articles import Article
from ingest.sections import inline_text, markdown_parser


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


def _escaped_block(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    return f'<p class="raw-html">{escapeHtml(tokens[idx].content.strip())}</p>\n'


def _escaped_inline(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    return escapeHtml(tokens[idx].content)


def _heading_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    anchor = tokens[idx].meta.get("anchor")
    link = (
        f'<a class="anchor" href="#{escapeHtml(anchor)}" aria-hidden="true" tabindex="-1">#</a>'
        if anchor
        else ""
    )
    return f"{link}</{tokens[idx].tag}>\n"


def _link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    token = tokens[idx]
    href = str(token.attrGet("href") or "")
    if href.startswith(("http://", "https://", "//")):
        token.attrSet("rel", "noopener noreferrer")
    return self.renderToken(tokens, idx, options, env)


def _parser() -> Any:
    md = markdown_parser()
    md.add_render_rule("html_block", _escaped_block)
    md.add_render_rule("html_inline", _escaped_inline)
    md.add_render_rule("heading_close", _heading_close)
    md.add_render_rule("link_open", _link_open)
    return md


_MD = _parser()


def render_body(article: Article, body: str) -> RenderedBody:
    """HTML of an article body (front matter already split off)."""
    tokens = _MD.parse(body)
    opens = [i for i, token in enumerate(tokens) if token.type == "heading_open"]
    sections = [s for s in article.sections if s.level > 0]
    if len(opens) == len(sections) + 1 and opens and opens[0] == 0:
        # The leading H1 is the title (file without front matter): the page shows it.
        del tokens[0:3]
        opens = [i - 3 for i in opens[1:]]
    toc: list[TocEntry] = []
    for index, section in zip(opens, sections, strict=False):
        opening, closing = tokens[index], tokens[index + 2]
        opening.attrSet("id", section.anchor)
        closing.meta["anchor"] = section.anchor
        toc.append(TocEntry(section.level, inline_text(tokens[index + 1]), section.anchor))
    words = sum(len(s.text.split()) for s in article.sections)
    return RenderedBody(html=_MD.renderer.render(tokens, _MD.options, {}), toc=toc, words=words)
