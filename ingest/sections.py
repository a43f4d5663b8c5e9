"""Markdown body -> sections: one per heading, plain text with markup removed (code kept).

Parsing is markdown-it-py's CommonMark parser with tables, so ``#`` inside code fences,
HTML blocks, nested lists and tables are understood as Markdown means them.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingest.anchors import AnchorSlugger

SectionKind = Literal["overview", "section", "faq"]
FAQ_HEADINGS = frozenset({"faq", "faqs", "frequently asked questions"})


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

    @property
    def heading_path(self) -> str:
        """``Title > H2 > H3``, the breadcrumb shown with citations."""
        return " > ".join(self.path)


@dataclass(frozen=True)
class ParsedBody:
    """Sections of a body, and the H1 title when the body starts with one."""

    h1_title: str | None
    sections: list[Section]


def markdown_parser() -> MarkdownIt:
    """The CommonMark parser with GitHub tables, as used for indexing and rendering."""
    return MarkdownIt("commonmark").enable("table")


class _TextOfHTML(HTMLParser):
    """Keeps the text of an HTML fragment, dropping tags, scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
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
    """Plain text of an inline token: emphasis and links dropped, code spans kept."""
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
        elif child.type == "html_inline":
            continue
    return "".join(out).strip()


def _block_lines(tokens: list[Token]) -> list[tuple[str, bool]]:
    """Plain-text lines of the block tokens between two headings, each with whether it is
    prose (False for code lines and table header rows)."""
    lines: list[tuple[str, bool]] = []
    row: list[str] | None = None
    in_head = False
    for token in tokens:
        if token.type == "thead_open":
            in_head = True
        elif token.type == "thead_close":
            in_head = False
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            if any(cell for cell in row):
                lines.append((" | ".join(row), not in_head))
            row = None
        elif token.type == "inline":
            text = inline_text(token)
            if row is not None:
                row.append(text)
            elif text:
                lines.extend((part.strip(), True) for part in text.split("\n") if part.strip())
        elif token.type in ("fence", "code_block"):
            code = token.content.rstrip("\n").split("\n")
            lines.extend((line.rstrip(), False) for line in code)
        elif token.type == "html_block":
            text = html_text(token.content)
            if text:
                lines.append((text, True))
    return [(line, prose) for line, prose in lines if line.strip()]


def parse_sections(body: str, title: str | None, *, line_offset: int = 0) -> ParsedBody:
    """Split a Markdown body into sections with unique GitHub-style anchors."""
    tokens = markdown_parser().parse(body)
    slugger = AnchorSlugger()
    # Heading positions: (index of heading_open, level, text, line).
    headings: list[tuple[int, int, str, int]] = []
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            level = int(token.tag[1])
            text = inline_text(tokens[i + 1])
            line = (token.map[0] if token.map else 0) + 1 + line_offset
            headings.append((i, level, text, line))

    h1_title: str | None = None
    first_text_index = next(
        (i for i, t in enumerate(tokens) if t.type not in ("heading_open",) and t.level == 0),
        len(tokens),
    )
    if title is None and headings and headings[0][1] == 1 and headings[0][0] <= first_text_index:
        h1_title = headings[0][2]
        headings = headings[1:]
    article_title = title or h1_title or ""

    sections: list[Section] = []
    intro_end = headings[0][0] if headings else len(tokens)
    intro_start = 3 if h1_title is not None and tokens and tokens[0].type == "heading_open" else 0
    intro_lines = _block_lines(tokens[intro_start:intro_end])
    sections.append(
        Section(
            anchor="",
            heading=article_title,
            level=0,
            path=(article_title,),
            text="\n".join(line for line, _ in intro_lines),
            line=1 + line_offset,
            kind="overview",
            prose=tuple(prose for _, prose in intro_lines),
        )
    )

    stack: list[tuple[int, str]] = []  # (level, heading text) of the open ancestors
    for n, (index, level, text, line) in enumerate(headings):
        end = headings[n + 1][0] if n + 1 < len(headings) else len(tokens)
        while stack and stack[-1][0] >= level:
            stack.pop()
        parent = stack[-1][1] if stack else None
        stack.append((level, text))
        kind: SectionKind = (
            "faq" if parent is not None and parent.strip().lower() in FAQ_HEADINGS else "section"
        )
        lines = _block_lines(tokens[index + 3 : end])
        sections.append(
            Section(
                anchor=slugger.slug(text),
                heading=text,
                level=level,
                path=(article_title, *(heading for _, heading in stack)),
                text="\n".join(line for line, _ in lines),
                line=line,
                kind=kind,
                prose=tuple(prose for _, prose in lines),
            )
        )
    return ParsedBody(h1_title=h1_title, sections=sections)
