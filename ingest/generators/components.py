"""MDX/JSX components as a reader sees them, table-driven (Starlight, Mintlify, ...).

A component is a capitalised JSX tag (``<Aside type="tip" title="X">``, ``<Step
title="Install">``, ``<LinkCard\n  title="x"\n  href="y"\n/>``); markdown-it knows only
HTML, so a one-line tag becomes an ``html_block`` that swallows the Markdown inside it and
a multi-line one becomes paragraph text. The block rule here reads a tag wherever it
starts a line (over several lines, attributes quoted or ``{...}`` expressions), and emits
what the published page shows, by the component's :class:`Component` entry:

- callouts (``<Note>``, ``<Aside>``) become ``admonition_open`` ... ``admonition_close``
  (an explicit ``title`` kept as text, the default one not);
- titles, labels and descriptions held in attributes (``<Card title>``, ``<TabItem
  label>``, ``<LinkCard description>``) become a ``shortcode`` token with ``meta["title"]``,
  a line of the section's text; API fields (``<ParamField query="limit" type="number"
  required>``) the line ``limit (number, required)`` and an id ``param-limit`` in
  ``meta["section_id"]`` that a link may name;
- everything else is a ``jsx_open``/``jsx_close`` pair around its children, which are
  Markdown parsed as the page's own (``<Visibility for="agents">`` and the like are
  dropped with their children);
- a self-closing unknown tag becomes ``<Name />`` in an ``html_block`` (an imported MDX
  partial is resolved by ``ingest.includes``; anything else shows nothing).

Inline, a tag (``<Tooltip tip="...">text</Tooltip>``, ``<Icon icon="x" />``, ``<Badge
text="New" />``) leaves its text; ``{expressions}`` and ``{/* comments */}`` are dropped
(a string literal ``{' '}`` is its text). ``<code>...</code>`` in running text is a code
span. MDX has no indented code blocks, so a parser using these rules has none either.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from markdown_it import MarkdownIt
from markdown_it.ruler import RuleOptionsType
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from ingest.includes import IncludeContext

_TAG_START = re.compile(r"<(/?)([A-Z][\w.]*)(?=[\s/>])")
_ATTR_NAME = re.compile(r"[A-Za-z_$][\w:.$-]*")
_STRING_EXPRESSION = re.compile(r"^\{\s*(['\"`])(.*)\1\s*\}$", re.S)
_CLOSERS = re.compile(r"(?:\s*</[A-Z][\w.]*\s*>)+\s*$")
_FENCE = re.compile(r"^(?:```|~~~)")
_HTML_CODE = re.compile(r"^<code(?:\s[^>]*)?>$", re.I)
_HTML_CODE_END = re.compile(r"^</code\s*>$", re.I)

Attrs = dict[str, str | bool | None]  # None: a ``{expression}`` value
Nesting = Literal[-1, 0, 1]


@dataclass(frozen=True)
class Component:
    """What one component contributes to the page a reader sees.

    ``inline``: used inside running text (its tags vanish, its children stay);
    ``callout``: an admonition of that kind; ``title``: attributes of which the first
    present is a line of text (a title or label); ``lines``: further attributes shown as
    lines (a description); ``field``: an API field whose first present attribute of
    ``title`` is its name, shown with ``type``/``required``/``default``; ``hidden``:
    attribute values that hide the component and its children (``for="agents"``);
    ``drop``: shows nothing itself (an icon).
    """

    inline: bool = False
    callout: str | None = None
    title: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    field: bool = False
    hidden: tuple[tuple[str, str], ...] = ()
    drop: bool = False


Table = Mapping[str, Component]

# Components both Starlight and Mintlify (and MDX docs at large) use the same way.
COMMON: dict[str, Component] = {
    "Icon": Component(inline=True, drop=True),
    "Badge": Component(inline=True, title=("text",)),
    "Tooltip": Component(inline=True),
    "Steps": Component(),
    "Tabs": Component(),
    "Card": Component(title=("title",)),
    "Frame": Component(),  # its caption is shown under the image: see the generators
}


@dataclass(frozen=True)
class Tag:
    """One JSX tag as written."""

    name: str
    closing: bool
    self_closing: bool
    attrs: Attrs
    end: int  # offset just past the tag


def _balanced(src: str, pos: int, limit: int) -> int:
    """Offset just past the ``}`` matching the ``{`` at ``pos`` (quotes and template
    strings skipped), -1 if unbalanced before ``limit``."""
    depth = 0
    i = pos
    while i < limit:
        char = src[i]
        if char in "\"'`":
            close = src.find(char, i + 1, limit)
            if close < 0:
                return -1
            i = close + 1
            continue
        if src.startswith("/*", i):
            close = src.find("*/", i + 2, limit)
            if close < 0:
                return -1
            i = close + 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def _skip_space(src: str, pos: int, limit: int) -> int:
    while pos < limit and src[pos] in " \t\r\n":
        pos += 1
    return pos


def _value(src: str, pos: int, limit: int) -> tuple[str | None, int] | None:
    """An attribute value at ``pos``: quoted text, or ``{...}`` (its string if it is a
    string literal, else None)."""
    if pos >= limit:
        return None
    char = src[pos]
    if char in "\"'":
        close = src.find(char, pos + 1, limit)
        return (src[pos + 1 : close], close + 1) if close >= 0 else None
    if char == "{":
        end = _balanced(src, pos, limit)
        if end < 0:
            return None
        literal = _STRING_EXPRESSION.match(src[pos:end])
        return (literal.group(2) if literal else None), end
    return None


def parse_tag(src: str, pos: int, limit: int) -> Tag | None:
    """The JSX tag of a capitalised component starting at ``pos``, if well formed."""
    match = _TAG_START.match(src, pos, limit)
    if match is None:
        return None
    closing, name = bool(match.group(1)), match.group(2)
    attrs: Attrs = {}
    i = match.end()
    while True:
        i = _skip_space(src, i, limit)
        if i >= limit:
            return None
        if src[i] == ">":
            return Tag(name, closing, False, attrs, i + 1)
        if src.startswith("/>", i) and not closing:
            return Tag(name, closing, True, attrs, i + 2)
        if src[i] == "{":  # {...spread}
            i = _balanced(src, i, limit)
            if i < 0:
                return None
            continue
        attr = _ATTR_NAME.match(src, i, limit)
        if attr is None or closing:
            return None
        i = _skip_space(src, attr.end(), limit)
        if i < limit and src[i] == "=":
            found = _value(src, _skip_space(src, i + 1, limit), limit)
            if found is None:
                return None
            attrs[attr.group(0)] = found[0]
            i = found[1]
        else:
            attrs[attr.group(0)] = True


def _text(attrs: Attrs, names: Sequence[str]) -> str | None:
    for name in names:
        value = attrs.get(name)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return None


def field_line(attrs: Attrs, names: Sequence[str]) -> tuple[str, str] | None:
    """``name (type, required, default: x)`` of an API field, and its name."""
    name = _text(attrs, names)
    if name is None:
        return None
    details = [d for d in (_text(attrs, ("type",)),) if d]
    if attrs.get("required") is True or attrs.get("required") == "true":
        details.append("required")
    if attrs.get("deprecated") is True or attrs.get("deprecated") == "true":
        details.append("deprecated")
    default = _text(attrs, ("default",))
    if default is not None:
        details.append(f"default: {default}")
    return (f"{name} ({', '.join(details)})" if details else name), name


def _component(table: Table, name: str) -> Component:
    return table.get(name) or table.get(name.split(".", 1)[0] + ".*") or Component()


def _hidden(component: Component, attrs: Attrs) -> bool:
    return any(attrs.get(key) == value for key, value in component.hidden)


def is_mdx(env: Mapping[str, Any]) -> bool:
    """Whether the page being parsed is MDX (an ``.mdx`` file or an MDX dialect)."""
    context = env.get("includes")
    if not isinstance(context, IncludeContext):
        return True
    return context.mdx or context.page.suffix.lower() == ".mdx"


@dataclass(frozen=True)
class JsxRules:
    """The markdown-it rules for one generator's component table."""

    table: Table
    field_id: Callable[[str], str] | None = None  # API field name -> the id links name
    fence_label: Callable[[str], str] | None = None  # fence info -> its shown title
    extra: Mapping[str, Any] = field(default_factory=dict)

    # -- block level -------------------------------------------------------------------

    def _line_start(self, state: StateBlock, line: int) -> int:
        return state.bMarks[line] + state.tShift[line]

    def _line_of(self, state: StateBlock, offset: int, start: int) -> int:
        line = start
        while line < state.lineMax and state.eMarks[line] < offset:
            line += 1
        return line

    def _starts_block_tag(self, state: StateBlock, line: int) -> bool:
        pos = self._line_start(state, line)
        match = _TAG_START.match(state.src, pos, state.eMarks[line] + 1)
        return match is not None and not _component(self.table, match.group(2)).inline

    def block(self, state: StateBlock, start: int, end: int, silent: bool) -> bool:
        """A line starting with a component tag (or a ``{...}`` expression)."""
        if not is_mdx(state.env):
            return False
        pos = self._line_start(state, start)
        if pos >= state.eMarks[start]:
            return False
        if state.src[pos] == "{":
            return self._expression(state, start, end, silent)
        if not self._starts_block_tag(state, start):
            return False
        limit = state.eMarks[end - 1] if end > start else state.eMarks[start]
        tag = parse_tag(state.src, pos, limit)
        if tag is None:
            return False
        if silent:
            return True
        line = start
        while tag is not None and not _component(self.table, tag.name).inline:
            line = self._line_of(state, tag.end, line)
            component = _component(self.table, tag.name)
            if not tag.closing and not tag.self_closing and _hidden(component, tag.attrs):
                state.line = self._skip_hidden(state, tag, line, end)
                return True
            self._emit(state, tag, component, [start, line + 1])
            pos = _skip_space(state.src, tag.end, state.eMarks[line])
            if pos >= state.eMarks[line]:
                state.line = line + 1
                return True
            tag = parse_tag(state.src, pos, limit)
        self._paragraph(state, pos, line, end)
        return True

    def _expression(self, state: StateBlock, start: int, end: int, silent: bool) -> bool:
        """``{/* comment */}`` or ``{expression}`` filling its lines: dropped."""
        pos = self._line_start(state, start)
        close = _balanced(state.src, pos, state.eMarks[end - 1])
        if close < 0:
            return False
        line = self._line_of(state, close, start)
        if state.src[close : state.eMarks[line]].strip():
            return False
        if not silent:
            state.line = line + 1
        return True

    def _skip_hidden(self, state: StateBlock, tag: Tag, line: int, end: int) -> int:
        """The line after the tag closing ``tag`` (same-name tags nested counted)."""
        depth = 1
        pos = tag.end
        limit = state.eMarks[end - 1]
        pattern = re.compile(rf"<(/?){re.escape(tag.name)}(?=[\s/>])")
        while depth:
            match = pattern.search(state.src, pos, limit)
            if match is None:
                return end
            inner = parse_tag(state.src, match.start(), limit)
            pos = inner.end if inner is not None else match.end()
            if inner is None or inner.self_closing:
                continue
            depth += -1 if inner.closing else 1
        return self._line_of(state, pos, line) + 1

    def _paragraph(self, state: StateBlock, pos: int, line: int, end: int) -> None:
        """Text after the tags on a line (and the lines it runs on), then the closing
        tags that end it: a paragraph as the page shows it."""
        last = line
        while last + 1 < end and not state.isEmpty(last + 1):
            nxt = self._line_start(state, last + 1)
            text = state.src[nxt : state.eMarks[last + 1]]
            if self._starts_block_tag(state, last + 1) or _FENCE.match(text):
                break
            last += 1
        content = state.src[pos : state.eMarks[last]]
        closers = _CLOSERS.search(content)
        tail = ""
        if closers is not None:
            content, tail = content[: closers.start()], closers.group(0)
        content = "\n".join(part.strip() for part in content.split("\n")).strip()
        if content:
            state.push("paragraph_open", "p", 1).map = [line, last + 1]
            inline = state.push("inline", "", 0)
            inline.content = content
            inline.map = [line, last + 1]
            inline.children = []
            state.push("paragraph_close", "p", -1)
        offset = tail.find("<")
        while offset >= 0 and (tag := parse_tag(tail, offset, len(tail))) is not None:
            component = _component(self.table, tag.name)
            if not component.inline:
                self._emit(state, tag, component, [last, last + 1])
            offset = tail.find("<", tag.end)
        state.line = last + 1

    def _push(
        self, state: StateBlock, kind: str, tag: str, nesting: Nesting, where: list[int]
    ) -> Token:
        """A token at the current level (components do not nest the page's blocks)."""
        token = Token(kind, tag, nesting)
        token.level = state.level
        token.block = True
        token.map = where
        state.tokens.append(token)
        return token

    def _emit(self, state: StateBlock, tag: Tag, component: Component, where: list[int]) -> None:
        if component.drop:
            return
        if tag.self_closing and tag.name not in self.table:
            self._push(state, "html_block", "", 0, where).content = f"<{tag.name} />\n"
            return
        name = "jsx-" + tag.name.lower().replace(".", "-")
        if component.callout is not None:
            self._callout(state, tag, component, where)
            return
        if tag.closing:
            self._push(state, "jsx_close", "div", -1, where)
            return
        opening = self._push(state, "jsx_open", "div", 1, where)
        opening.attrs = {"class": name}
        opening.info = tag.name
        for line, section_id in self._lines(tag.attrs, component):
            title = self._push(state, "shortcode", "", 0, where)
            title.info = tag.name
            title.meta = {"title": line}
            if section_id:
                title.meta["section_id"] = section_id
                opening.attrs["id"] = section_id
        if tag.self_closing:
            self._push(state, "jsx_close", "div", -1, where)

    def _lines(self, attrs: Attrs, component: Component) -> list[tuple[str, str | None]]:
        """The lines of text a component's attributes show, with an id for a field."""
        if component.field:
            found = field_line(attrs, component.title)
            if found is None:
                return []
            line, name = found
            return [(line, self.field_id(name) if self.field_id else None)]
        out: list[tuple[str, str | None]] = []
        title = _text(attrs, component.title)
        if title:
            out.append((title, None))
        out.extend((text, None) for name in component.lines if (text := _text(attrs, (name,))))
        return out

    def _callout(self, state: StateBlock, tag: Tag, component: Component, where: list[int]) -> None:
        if tag.closing:
            self._push(state, "admonition_close", "div", -1, where)
            return
        kind = _text(tag.attrs, ("type",)) or component.callout or "note"
        title = _text(tag.attrs, component.title)
        opening = self._push(state, "admonition_open", "div", 1, where)
        opening.attrs = {"class": f"admonition {kind}"}
        opening.meta = {"tag": kind, "explicit_title": title is not None}
        opening.markup = f"<{tag.name}>"
        opening.info = kind
        self._push(state, "admonition_title_open", "p", 1, where).attrs = {
            "class": "admonition-title"
        }
        inline = self._push(state, "inline", "", 0, where)
        inline.content = title or kind.title()
        inline.children = []
        self._push(state, "admonition_title_close", "p", -1, where)
        if tag.self_closing:
            self._push(state, "admonition_close", "div", -1, where)

    def paragraph(self, state: StateBlock, start: int, end: int, silent: bool) -> bool:
        """markdown-it's paragraph, except that a line indented four spaces is checked
        for a closing tag like any other (MDX has no indented code to continue)."""
        terminators = state.md.block.ruler.getRules("paragraph")
        old_parent, state.parentType = state.parentType, "paragraph"
        line = start + 1
        while line < state.lineMax and not state.isEmpty(line):
            if state.sCount[line] >= 0 and any(
                rule(state, line, end, True) for rule in terminators
            ):
                break
            line += 1
        content = state.getLines(start, line, state.blkIndent, False).strip()
        state.line = line
        state.push("paragraph_open", "p", 1).map = [start, line]
        inline = state.push("inline", "", 0)
        inline.content = content
        inline.map = [start, line]
        inline.children = []
        state.push("paragraph_close", "p", -1)
        state.parentType = old_parent
        return True

    # -- inline ------------------------------------------------------------------------

    def inline(self, state: StateInline, silent: bool) -> bool:
        """A component tag or a ``{...}`` expression in running text."""
        src, pos = state.src, state.pos
        if src[pos] not in "<{" or not is_mdx(state.env):
            return False
        if src[pos] == "{":
            end = _balanced(src, pos, state.posMax)
            if end < 0:
                return False
            literal = _STRING_EXPRESSION.match(src[pos:end])
            if not silent and literal and literal.group(2):
                state.push("text", "", 0).content = literal.group(2)
            state.pos = end
            return True
        tag = parse_tag(src, pos, state.posMax)
        if tag is None:
            return False
        if not silent and not tag.closing:
            component = _component(self.table, tag.name)
            text = None if component.drop else _text(tag.attrs, component.title)
            if text:
                state.push("text", "", 0).content = text
        state.pos = tag.end
        return True

    # -- core --------------------------------------------------------------------------

    def code_spans(self, state: StateCore) -> None:
        """``<code>text</code>`` in running text is a code span (its text is code)."""
        for token in state.tokens:
            if token.type != "inline" or not token.children:
                continue
            children: list[Token] = []
            opened: Token | None = None
            for child in token.children:
                if child.type == "html_inline" and _HTML_CODE.match(child.content):
                    opened = Token("code_inline", "code", 0)
                    opened.markup = "`"
                    children.append(opened)
                elif opened is not None and child.type == "html_inline":
                    if _HTML_CODE_END.match(child.content):
                        opened = None
                elif opened is not None and child.type in ("text", "code_inline"):
                    opened.content += child.content
                else:
                    children.append(child)
            token.children = children

    def labels(self, state: StateCore) -> None:
        """A code block's shown title (``title="x"``, a tab label) becomes a line
        before its code."""
        if self.fence_label is None:
            return
        out: list[Token] = []
        for token in state.tokens:
            if token.type == "fence":
                label = self.fence_label(token.info)
                if label:
                    title = Token("shortcode", "", 0)
                    title.block = True
                    title.level = token.level
                    title.map = token.map
                    title.info = "code-title"
                    title.meta = {"title": label}
                    out.append(title)
            out.append(token)
        state.tokens = out

    def install(self, md: MarkdownIt) -> None:
        """Register the rules on ``md`` (and drop indented code blocks, as MDX does)."""
        alt: RuleOptionsType = {"alt": ["paragraph", "reference", "blockquote", "list"]}
        md.block.ruler.before("html_block", "jsx_block", self.block, alt)
        md.inline.ruler.before("html_inline", "jsx_inline", self.inline)
        md.core.ruler.after("inline", "jsx_code_spans", self.code_spans)
        md.core.ruler.after("includes", "jsx_labels", self.labels)
        md.block.ruler.at("paragraph", self.paragraph)
        md.disable("code")


def jsx_plugin(
    table: Table,
    field_id: Callable[[str], str] | None = None,
    fence_label: Callable[[str], str] | None = None,
) -> Callable[[MarkdownIt], None]:
    """A generator ``plugin`` reading components by ``table``."""
    return JsxRules(table, field_id, fence_label).install
