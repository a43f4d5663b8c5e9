"""A parsed page's tokens -> CommonMark/GFM Markdown, as the published page reads.

The tokens are the ones the index was built from: the generator's syntax has already
become tokens (admonitions, tabs, containers, includes spliced in, MDX imports removed),
so what comes out is plain Markdown an assistant can read without knowing the generator.
``mdformat`` writes the CommonMark it knows (and escapes text so it reads back as the same
text); the rules here cover the rest:

- admonitions, GitHub alerts and admonition-like containers: a blockquote opening with the
  title in bold (``> **Python versions**``); other containers, tabs and Docusaurus
  ``<TabItem>``: the title or label as a bold line, then the content;
- code fences: the language kept, a title or label (``title="app.py"``, VitePress
  ``[npm]``) as a bold line before the fence;
- GFM tables, strikethrough, task lists and footnotes; definition lists as a bold term
  and its definition;
- raw HTML: its visible text (a tag alone disappears, ``<br>`` stays a line break);
- links and images absolute (see :class:`PageLinks`); one that cannot be made absolute
  keeps its text (an image its alt text);
- front matter, API stubs and includes that were left out disappear; a shortcode leaves
  its title;
- any other token (a generator's own): an ``*_open`` block renders its ``meta`` title or
  label as a bold line and then its content, an inline one its content, a leaf its
  ``content`` as text -- so a new generator needs no rule here.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urljoin

from markdown_it.token import Token
from mdformat.renderer import DEFAULT_RENDERERS, RenderContext, RenderTreeNode

from ingest.markdown import ADMONITION_TYPES, container_title
from ingest.sections import html_text, inline_text

Render = Callable[[RenderTreeNode, RenderContext], str]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_PAGE_LINK = re.compile(
    r"^(?P<path>[^?#]+\.(?:md|mdx|markdown))(?:\?[^#]*)?(?P<anchor>#.*)?$", re.I
)
_URL_UNSAFE = {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E"}
_BREAK = re.compile(r"^<br\s*/?>$", re.I)
_CHECKBOX = re.compile(r"^<input\b[^>]*\btype=[\"']?checkbox", re.I)
_TAB_COMPONENT = re.compile(r"<(?:TabItem|Tab)\b(?P<attrs>[^>]*)>")
_TAB_LABEL = re.compile(r"\b(?P<name>label|title|value)\s*=\s*(?:\"(?P<q>[^\"]*)\"|'(?P<s>[^']*)')")
_FENCE_TITLE = re.compile(r"""\b(?:title|filename)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S+))""")
_FENCE_LABEL = re.compile(r"\[([^\]]+)\]")
_HIDDEN = frozenset({"front_matter", "api_stub", "include", "include_missing", "footnote_anchor"})
_ONE_LINE = ("heading", "th", "td", "link", "dt")  # where a line break cannot be
_ALIGN = {"left": ":--", "right": "--:", "center": ":-:"}
_OPTIONS: Mapping[str, Any] = MappingProxyType({"mdformat": {"wrap": "keep", "number": True}})


@dataclass(frozen=True)
class PageLinks:
    """Where the links of one page point, all absolute.

    - ``#anchor``: the page's own URL with the anchor;
    - a link to another page's source (``../guide/usage.md#rotate``): that page's URL with
      the anchor, when the page is indexed (else the link keeps only its text);
    - any other relative or site-relative (``/x``) link: resolved against ``base``;
    - a relative image: resolved against ``assets`` (the page's place on the real site);
      without one the image leaves its alt text;
    - a target with a scheme (``https:``, ``mailto:``): unchanged.
    """

    url: str  # where the page is published
    rel: str  # its source file, relative to the content folder
    pages: Mapping[str, str]  # source file (relative to the content folder) -> its URL
    base: str  # what other relative links resolve against (the page's URL, as a rule)
    assets: str | None = None  # what relative images resolve against; None: unknown

    def href(self, href: str) -> str | None:
        """The absolute form of a link target, or None when there is none."""
        href = href.strip()
        if not href or href == "#":
            return None
        if _SCHEME.match(href) or href.startswith("//"):
            return href
        if href.startswith("#"):
            return f"{self.url.split('#', 1)[0]}{href}"
        page = _PAGE_LINK.match(href)
        if page is not None:
            path = unquote(page.group("path"))
            if path.startswith("/"):
                target = posixpath.normpath(path.lstrip("/"))
            else:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(self.rel), path))
            url = self.pages.get(target)
            if url is None:
                return None
            return f"{url.split('#', 1)[0]}{page.group('anchor') or ''}"
        return urljoin(self.base, href)

    def src(self, src: str) -> str | None:
        """The absolute form of an image's source, or None when it has none."""
        src = src.strip()
        if _SCHEME.match(src) or src.startswith("//"):
            return src
        if not src or self.assets is None:
            return None
        return urljoin(self.assets, src)


def _safe_url(url: str) -> str:
    return "".join(_URL_UNSAFE.get(c, c) for c in url)


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(f"{re.escape(char)}+", text)
    return max((len(run) for run in runs), default=0)


def _inside(node: RenderTreeNode, *types: str) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.type in types:
            return True
        parent = parent.parent
    return False


def _tight(node: RenderTreeNode) -> bool:
    """Whether a list is tight (its items' paragraphs hidden)."""
    return all(
        paragraph.hidden
        for item in node.children
        for paragraph in item.children
        if paragraph.type == "paragraph"
    )


def _tight_item(item: RenderTreeNode) -> bool:
    """Whether a list item's blocks are joined by single newlines (a blank line between
    two would make its list loose)."""
    return item.parent is None or _tight(item.parent)


def _text_node(text: str) -> Token:
    return Token("text", "", 0, content=text)


def _paragraph_tokens(children: list[Token]) -> list[Token]:
    inline = Token("inline", "", 0, children=children)
    return [Token("paragraph_open", "p", 1), inline, Token("paragraph_close", "p", -1)]


class _Renderer:
    """Render rules for one page (they read its links)."""

    def __init__(self, links: PageLinks) -> None:
        self.links = links
        own: dict[str, Render] = {
            "inline": self.inline,
            "heading": self.heading,
            "hr": self.hr,
            "html_block": self.html_block,
            "html_inline": self.html_inline,
            "hardbreak": self.hardbreak,
            "fence": self.fence,
            "code_block": self.fence,
            "link": self.link,
            "image": self.image,
            "ordered_list": self.ordered_list,
            "list_item": self.list_item,
            "s": self.strikethrough,
            "table": self.table,
            "admonition": self.callout,
            "alert": self.callout,
            "tab": self.tab,
            "shortcode": self.shortcode,
            "dl": self.blocks,
            "dt": self.term,
            "dd": self.blocks,
            "footnote_ref": self.footnote_ref,
            "footnote_block": self.blocks,
            "footnote": self.footnote,
        }
        self.renderers = _Rules({**DEFAULT_RENDERERS, **own}, self.generic)

    def inline(self, node: RenderTreeNode, context: RenderContext) -> str:
        out = ""
        for child in node.children:
            piece = child.render(context)
            if out.endswith(" ") and piece.startswith(" "):  # around something dropped
                piece = piece.lstrip(" ")
            out += piece
        return out

    def render(self, tokens: Sequence[Token]) -> str:
        env: dict[str, Any] = {"indent_width": 0, "used_refs": set()}
        context = RenderContext(self.renderers, MappingProxyType({}), _OPTIONS, env)
        return RenderTreeNode(_balanced(tokens)).render(context).strip("\n")

    # Helpers

    def bold(self, text: str, context: RenderContext) -> str:
        """``**text**`` as a paragraph of its own, escaped."""
        strong = [
            Token("strong_open", "strong", 1, markup="**"),
            _text_node(text),
            Token("strong_close", "strong", -1, markup="**"),
        ]
        return str(RenderTreeNode(_paragraph_tokens(strong)).render(context))

    def plain(self, text: str, context: RenderContext) -> str:
        """``text`` as a paragraph, escaped so it reads back as the same text."""
        return str(RenderTreeNode(_paragraph_tokens([_text_node(text)])).render(context))

    def children(self, nodes: Sequence[RenderTreeNode], context: RenderContext) -> str:
        return "\n\n".join(out for out in (child.render(context) for child in nodes) if out)

    def titled(
        self, title: str, body: Iterator[str] | list[str], context: RenderContext, quote: bool
    ) -> str:
        parts = [self.bold(title, context)] if title else []
        parts += [part for part in body if part]
        text = "\n\n".join(parts)
        if not quote:
            return text
        return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))

    # Block rules

    def heading(self, node: RenderTreeNode, context: RenderContext) -> str:
        prefix, _, text = str(DEFAULT_RENDERERS["heading"](node, context)).partition(" ")
        return f"{prefix} {text.strip()}"  # text a dropped icon or template left spaced

    def hr(self, node: RenderTreeNode, context: RenderContext) -> str:
        previous, parent = node.previous_sibling, node.parent
        in_item = parent is not None and parent.type == "list_item"
        if in_item and previous is not None and previous.type == "paragraph":
            return "* * *"  # a tight item's "---" right under a paragraph line is a heading
        return "---"

    def html_block(self, node: RenderTreeNode, context: RenderContext) -> str:
        text = html_text(node.content)
        if text:
            return self.plain(text, context)
        opened = list(_TAB_COMPONENT.finditer(node.content))
        if opened:
            found = {
                m.group("name"): m.group("q") or m.group("s") or ""
                for m in _TAB_LABEL.finditer(opened[-1].group("attrs"))
            }
            label = found.get("label") or found.get("title") or found.get("value") or ""
            if label.strip():
                return self.bold(label.strip(), context)
        return ""

    def fence(self, node: RenderTreeNode, context: RenderContext) -> str:
        info = node.info.strip()
        language = re.split(r"[\s{\[]", info, maxsplit=1)[0] if info else ""
        language = language.lstrip(".").strip("{}")
        meta = node.meta
        label = str(meta.get("title") or meta.get("label") or "")
        rest = info[len(language) :]
        if not label and (found := _FENCE_TITLE.search(rest)):
            label = next(group for group in found.groups() if group is not None)
        if not label and (found := _FENCE_LABEL.search(rest)):
            label = found.group(1)
        code = (
            node.content if node.content.endswith("\n") or not node.content else f"{node.content}\n"
        )
        char = "~" if "`" in language else "`"
        fence = char * max(3, _longest_run(code, char) + 1)
        block = f"{fence}{language}\n{code}{fence}"
        if not label.strip():
            return block
        item = node.parent
        tight = item is not None and item.type == "list_item" and _tight_item(item)
        return f"{self.bold(label.strip(), context)}{chr(10) if tight else chr(10) * 2}{block}"

    def ordered_list(self, node: RenderTreeNode, context: RenderContext) -> str:
        marker = node.markup or "."
        start = node.attrs.get("start")
        first = start if isinstance(start, int) else 1
        tight = _tight(node)
        items = []
        for number, item in enumerate(node.children, start=first):
            prefix = f"{number}{marker} "
            with context.indented(len(prefix)):
                lines = item.render(context).split("\n")
            head = f"{prefix}{lines[0]}" if lines[0] else prefix.rstrip()
            items.append(
                "\n".join([head, *(" " * len(prefix) + ln if ln else "" for ln in lines[1:])])
            )
        return ("\n" if tight else "\n\n").join(items)

    def list_item(self, node: RenderTreeNode, context: RenderContext) -> str:
        # Not mdformat's rule, which fails on an item whose parent is not a list (a
        # component's tokens closing around it).
        separator = "\n" if _tight_item(node) else "\n\n"
        text = separator.join(out for out in (c.render(context) for c in node.children) if out)
        if not text.strip():
            return ""
        checked = node.meta.get("checked")
        if isinstance(checked, bool):
            return f"[{'x' if checked else ' '}] {text}"
        return text

    def table(self, node: RenderTreeNode, context: RenderContext) -> str:
        rows: list[list[str]] = []
        aligns: list[str] = []
        for part in node.children:
            for row in part.children:
                cells = []
                for cell in row.children:
                    text = self.children(cell.children, context)
                    cells.append(text.replace("\n", " ").replace("|", "\\|").strip())
                    if part.type == "thead":
                        style = str(cell.attrs.get("style", ""))
                        aligns.append(_ALIGN.get(style.partition(":")[2].strip(), "---"))
                rows.append(cells)
        if not rows:
            return ""
        width = max(len(row) for row in rows)
        aligns += ["---"] * (width - len(aligns))
        lines = [self._row(rows[0], width), "|" + "|".join(aligns[:width]) + "|"]
        lines += [self._row(row, width) for row in rows[1:]]
        return "\n".join(lines)

    @staticmethod
    def _row(cells: list[str], width: int) -> str:
        cells = cells + [""] * (width - len(cells))
        return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"

    def callout(self, node: RenderTreeNode, context: RenderContext) -> str:
        """An admonition or alert: a blockquote opening with its title."""
        body = [c for c in node.children if not c.type.endswith("_title")]
        heads = [c for c in node.children if c.type.endswith("_title")]
        inlines = [c.token for head in heads for c in head.children if c.token is not None]
        title = " ".join(inline_text(token) for token in inlines)
        title = title or ("" if node.meta.get("explicit_title") else node.content)
        with context.indented(2):
            return self.titled(title.strip(), [self.children(body, context)], context, True)

    def container(self, node: RenderTreeNode, context: RenderContext) -> str:
        """``:::tip Title`` / ``/// warning | Title``: a blockquote for an admonition type,
        else its title (if any) and content."""
        info = node.info.strip()
        kind = info.split(" ", 1)[0].split("[", 1)[0].split("|", 1)[0].strip().lower()
        callout = kind in ADMONITION_TYPES and kind != "tab"
        title = container_title(node.info, node.markup) or (kind.title() if callout else "")
        with context.indented(2 if callout else 0):
            return self.titled(title, [self.children(node.children, context)], context, callout)

    def tab(self, node: RenderTreeNode, context: RenderContext) -> str:
        title = str(node.meta.get("title") or node.meta.get("label") or "").strip()
        return self.titled(title, [self.children(node.children, context)], context, False)

    def shortcode(self, node: RenderTreeNode, context: RenderContext) -> str:
        title = str(node.meta.get("title") or "").strip()
        return self.bold(title, context) if title else ""

    def blocks(self, node: RenderTreeNode, context: RenderContext) -> str:
        return self.children(node.children, context)

    def term(self, node: RenderTreeNode, context: RenderContext) -> str:
        text = "".join(child.render(context) for child in node.children).replace("\n", " ")
        return f"**{text.strip()}**" if text.strip() else ""

    def footnote(self, node: RenderTreeNode, context: RenderContext) -> str:
        label = node.meta.get("label") or str(int(node.meta.get("id", 0)) + 1)
        with context.indented(4):
            lines = self.children(node.children, context).split("\n")
        rest = ("    " + line if line else "" for line in lines[1:])
        return "\n".join([f"[^{label}]: {lines[0]}", *rest])

    def generic(self, node: RenderTreeNode, context: RenderContext) -> str:
        """A token no rule knows (a generator's own)."""
        if node.type in _HIDDEN:
            return ""
        if node.type.startswith("container_"):
            return self.container(node, context)
        if node.token is not None and node.children:  # a leaf holding inline tokens
            return "".join(child.render(context) for child in node.children)
        if node.token is not None:  # a leaf
            if not node.content.strip():
                return ""
            if node.block:
                return self.plain(node.content.strip(), context)
            return str(DEFAULT_RENDERERS["text"](node, context))
        if not node.block:
            return "".join(child.render(context) for child in node.children)
        title = str(node.meta.get("title") or node.meta.get("label") or "").strip()
        return self.titled(title, [self.children(node.children, context)], context, False)

    # Inline rules

    def html_inline(self, node: RenderTreeNode, context: RenderContext) -> str:
        content = node.content.strip()
        if _BREAK.match(content):
            following = node.next_sibling
            if following is not None and following.type == "softbreak":  # it makes the
                return "" if _inside(node, *_ONE_LINE) else "\\"  # newline itself
            return self.hardbreak(node, context)
        if _CHECKBOX.match(content):
            return "[x] " if re.search(r"\bchecked\b", content, re.I) else "[ ] "
        return ""

    def hardbreak(self, node: RenderTreeNode, context: RenderContext) -> str:
        if node.next_sibling is None:  # nothing after it: a "\\" would stay as text
            return ""
        if _inside(node, *_ONE_LINE):
            return " "
        return "\\\n"

    def strikethrough(self, node: RenderTreeNode, context: RenderContext) -> str:
        return "~~" + "".join(child.render(context) for child in node.children) + "~~"

    def link(self, node: RenderTreeNode, context: RenderContext) -> str:
        text = "".join(child.render(context) for child in node.children)
        href = self.links.href(str(node.attrs.get("href", "")))
        if href is None or not text.strip():
            return text
        if node.info == "auto" and not any(c in href for c in " <>"):  # autolink, linkify
            if href.startswith("mailto:") and not text.startswith("mailto:"):
                href = href.removeprefix("mailto:")
            return f"<{href}>"
        title = node.attrs.get("title")
        if title:
            quoted = str(title).replace("\\", "\\\\").replace('"', '\\"')
            return f'[{text}]({_safe_url(href)} "{quoted}")'
        return f"[{text}]({_safe_url(href)})"

    def image(self, node: RenderTreeNode, context: RenderContext) -> str:
        alt = inline_text(node.token) if node.token is not None else ""
        alt = alt.replace("\n", " ")
        src = self.links.src(str(node.attrs.get("src", "")))
        if src is None:
            return self.plain(alt, context) if alt else ""
        alt = re.sub(r"([\\`*_\[\]<>&])", r"\\\1", alt)
        title = node.attrs.get("title")
        if title:
            quoted = str(title).replace("\\", "\\\\").replace('"', '\\"')
            return f'![{alt}]({_safe_url(src)} "{quoted}")'
        return f"![{alt}]({_safe_url(src)})"

    def footnote_ref(self, node: RenderTreeNode, context: RenderContext) -> str:
        label = node.meta.get("label") or str(int(node.meta.get("id", 0)) + 1)
        return f"[^{label}]"


def _balanced(tokens: Sequence[Token]) -> list[Token]:
    """``tokens`` with every opening token closed: a close with nothing open is dropped,
    what stays open is closed at the end (a section cut out of a page whose components
    open on one side of a heading and close on the other)."""
    out: list[Token] = []
    opened: list[Token] = []
    for token in tokens:
        if token.nesting == -1:
            if not opened:
                continue
            opened.pop()
        elif token.nesting == 1:
            opened.append(token)
        out.append(token)
    for token in reversed(opened):
        out.append(Token(token.type.removesuffix("_open") + "_close", token.tag, -1))
    return out


class _Rules(Mapping[str, Render]):
    """Render rules by node type; a type without one gets ``fallback``."""

    def __init__(self, rules: Mapping[str, Render], fallback: Render) -> None:
        self._rules = dict(rules)
        self._fallback = fallback

    def __getitem__(self, key: str) -> Render:
        return self._rules.get(key, self._fallback)

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)


def render_markdown(tokens: Sequence[Token], links: PageLinks) -> str:
    """Markdown for block ``tokens`` (a whole page or a run of whole blocks of it), with
    every link absolute by ``links``; no trailing newline. The tokens are not changed."""
    return _Renderer(links).render(tokens)
