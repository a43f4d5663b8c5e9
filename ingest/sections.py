"""A page's tokens -> sections: one per heading, plain text with markup removed (code kept).

What a reader sees on the published page is what a section holds: generator syntax has
already become tokens (``ingest.markdown``), admonitions and containers contribute their
explicit title and their text, raw HTML its text, code blocks their code. Each heading
gets its anchor here, by the generator's rules, and the anchor is written back onto the
heading token so the demo site renders the very ids the index links to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal

from markdown_it.token import Token

from ingest.anchors import AnchorSlugger, Slugger
from ingest.markdown import container_title

SectionKind = Literal["overview", "section", "faq"]
FAQ_HEADINGS = frozenset({"faq", "faqs", "frequently asked questions"})
_TITLED_CONTAINERS = ("container_admonition_open", "container_blocks_open")
_SPACES = re.compile(r"(?<=\S) {2,}(?=\S)")
# Control characters never reach the index (answer markers are made of two of them).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Section:
    """A heading and the plain text up to the next heading of any level."""

    anchor: str  # "" for the overview (text before the first heading)
    heading: str
    level: int  # 0 for the overview
    path: tuple[str, ...]  # (article title, H2, H3, ...)
    text: str
    line: int  # 1-based line of the heading in the file
    kind: SectionKind
    # Per line of ``text``: False for code and table-header lines, which are indexed and
    # quotable as context but never picked as an answer sentence on their own.
    prose: tuple[bool, ...] = ()
    # Per line of ``text``: True for a table's lines (its header row, then one line per
    # row, cells in page order joined by " | ", as the page shows them side by side).
    tables: tuple[bool, ...] = ()
    # Other ids a link may name inside this section (a MyST ``(label)=`` on a figure, an
    # ``{#id}`` on a paragraph): the link lands here.
    ids: tuple[str, ...] = ()

    @property
    def heading_path(self) -> str:
        """``Title > H2 > H3``, the breadcrumb shown with citations."""
        return " > ".join(self.path)


class _TextOfHTML(HTMLParser):
    """Keeps the text of an HTML fragment, dropping tags, comments, scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    parser = _TextOfHTML()
    parser.feed(fragment)
    parser.close()
    return " ".join("".join(parser.parts).split())


def inline_text(token: Token) -> str:
    """Plain text of an inline token: emphasis, links and inline HTML tags dropped, code
    spans kept."""
    out: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type == "softbreak":
            out.append(" ")
        elif child.type == "hardbreak":
            out.append("\n")
        elif child.type == "image":
            out.append(inline_text(child))
    # Syntax that left the text (templates, icons, inline HTML) leaves no double spaces.
    return _SPACES.sub(" ", "".join(out)).strip()


Line = tuple[str, bool, bool]  # text, prose (a sentence may start on it), in a table


def block_lines(tokens: Sequence[Token]) -> list[Line]:
    """Plain-text lines of block tokens, each with whether it is prose (False for code
    lines and table header rows) and whether it is a table's (header or row)."""
    lines: list[Line] = []
    row: list[str] | None = None
    header: list[str] = []
    in_head = False
    skip_inline = False
    for token in tokens:
        kind = token.type
        if kind == "thead_open":
            in_head, header = True, []
        elif kind == "thead_close":
            in_head = False
        elif kind == "tr_open":
            row = []
        elif kind == "tr_close" and row is not None:
            if in_head:
                header = row
                if any(header):
                    lines.append((table_row(header), False, True))
            elif any(cell for cell in row):
                lines.append((table_row(row), True, True))
            row = None
        elif kind == "admonition_open":
            skip_inline = not token.meta.get("explicit_title")
        elif kind == "alert_title_open":
            skip_inline = True
        elif kind in ("admonition_title_close", "alert_title_close"):
            skip_inline = False
        elif kind in _TITLED_CONTAINERS:
            title = container_title(token.info, token.markup)
            if title:
                lines.append((title, True, False))
        elif kind == "shortcode" and token.meta.get("title"):
            lines.append((str(token.meta["title"]), True, False))
        elif kind == "inline":
            if skip_inline:
                continue
            text = inline_text(token)
            if row is not None:
                row.append(" ".join(text.split()))  # one line per row, always
            elif text:
                lines.extend(
                    (part.strip(), True, False) for part in text.split("\n") if part.strip()
                )
        elif kind in ("fence", "code_block"):
            label = token.meta.get("label") if token.meta else None
            if label:  # a code group's tab or a file's title bar: context, not a sentence
                lines.append((str(label), False, False))
            code = token.content.rstrip("\n").split("\n")
            lines.extend((line.rstrip(), False, False) for line in code)
        elif kind == "html_block":
            text = html_text(token.content)
            if text:
                lines.append((text, True, False))
    return [(_CONTROL.sub("", line), prose, table) for line, prose, table in lines if line.strip()]


def table_row(cells: Sequence[str]) -> str:
    """A table row as one line: its cells in page order, ``80 | --print-width <int>``
    (what the page shows side by side; an answer renders it as a table again). Empty
    cells at the end are left out: a line never ends in a separator that trimming would
    cut in half."""
    kept = list(cells)
    while kept and not kept[-1].strip():
        kept.pop()
    return " | ".join(kept)


def token_ids(tokens: Sequence[Token]) -> tuple[str, ...]:
    """Ids that block tokens give to places inside a section (``meta["section_id"]``,
    e.g. a Mintlify ``<ParamField>``'s ``param-limit``)."""
    return tuple(str(t.meta["section_id"]) for t in tokens if t.meta.get("section_id"))


@dataclass(frozen=True)
class PageSections:
    """A page's sections, its leading H1 (the page title) and where that H1's tokens are."""

    h1_title: str | None
    title_tokens: tuple[int, int] | None  # [start, end) of the title H1 in the tokens
    sections: list[Section]


def _leading_h1(tokens: Sequence[Token]) -> int | None:
    """Index of an H1 that opens the page (nothing but hidden tokens before it)."""
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            return i if token.tag == "h1" else None
        if token.type in ("front_matter", "api_stub", "shortcode", "include_missing"):
            continue
        if token.level == 0 and token.type.endswith("_open"):
            return None
        if token.type == "html_block" and not html_text(token.content):
            continue
        if token.level == 0:
            return None
    return None


def _own_id(tokens: Sequence[Token], index: int | None) -> tuple[str, ...]:
    """The id a heading token carries (none when it has none)."""
    found = tokens[index].attrGet("id") if index is not None else None
    return (str(found),) if found else ()


def split_sections(
    tokens: Sequence[Token], title: str | None, slugger: Slugger | None = None
) -> PageSections:
    """Split a page's tokens into sections; heading tokens get their anchors as ids."""
    slugger = slugger or AnchorSlugger()
    h1 = _leading_h1(tokens)
    h1_title = inline_text(tokens[h1 + 1]) if h1 is not None else None
    article_title = title or h1_title or ""
    headings = [
        i
        for i, token in enumerate(tokens)
        if token.type == "heading_open" and i != h1 and token.level == 0
    ]
    for i in headings:  # explicit ids are reserved before any is generated
        explicit = tokens[i].attrGet("id")
        if explicit:
            slugger.reserve(str(explicit))
    first = headings[0] if headings else len(tokens)
    intro_tokens = [t for j, t in enumerate(tokens[:first]) if h1 is None or not h1 <= j < h1 + 3]
    intro = block_lines(intro_tokens)
    line_of = next((t.map[0] + 1 for t in tokens if t.map and t.type != "front_matter"), 1)
    sections = [
        Section(
            anchor="",
            heading=article_title,
            level=0,
            path=(article_title,),
            text="\n".join(line for line, _, _ in intro),
            line=line_of,
            kind="overview",
            prose=tuple(prose for _, prose, _ in intro),
            tables=tuple(table for _, _, table in intro),
            # The title H1's own id (VitePress gives it one) lands on the page's top.
            ids=(*_own_id(tokens, h1), *token_ids(intro_tokens)),
        )
    ]
    stack: list[tuple[int, str]] = []  # (level, heading text) of the open ancestors
    for n, index in enumerate(headings):
        opening = tokens[index]
        level = int(opening.tag[1])
        text = inline_text(tokens[index + 1])
        end = headings[n + 1] if n + 1 < len(headings) else len(tokens)
        explicit = opening.attrGet("id")
        anchor = str(explicit) if explicit else slugger.slug(text)
        opening.attrSet("id", anchor)
        while stack and stack[-1][0] >= level:
            stack.pop()
        parent = stack[-1][1] if stack else None
        stack.append((level, text))
        kind: SectionKind = (
            "faq" if parent is not None and parent.strip().lower() in FAQ_HEADINGS else "section"
        )
        lines = block_lines(tokens[index + 3 : end])
        sections.append(
            Section(
                anchor=anchor,
                heading=text,
                level=level,
                path=(article_title, *(heading for _, heading in stack)),
                text="\n".join(line for line, _, _ in lines),
                line=(opening.map[0] + 1) if opening.map else line_of,
                kind=kind,
                prose=tuple(prose for _, prose, _ in lines),
                tables=tuple(table for _, _, table in lines),
                ids=token_ids(tokens[index + 3 : end]),
            )
        )
    span = (h1, h1 + 3) if h1 is not None else None
    return PageSections(h1_title=h1_title, title_tokens=span, sections=sections)
