"""MyST directives and roles as the tokens the indexing pipeline reads.

Two core rules (registered by :mod:`ingest.generators.myst`):

- :func:`expand_directives` (after block parsing): every ```` ```{name} ```` / ``:::{name}``
  fence is read as a directive (argument, ``:key: value`` or YAML options, body) and
  replaced: admonitions, cards, tabs, dropdowns, exercises and proofs by
  ``admonition_open`` with their title; code, math and diagrams by a ``fence`` (a caption
  or file name as a paragraph before it); figures, tables, demos and unknown directives by
  their body parsed as Markdown (``list-table``/``csv-table`` become real tables);
  ``include``/``literalinclude`` by the file read in; tables of contents, index entries,
  embeds, images and raw output by nothing. ``$$`` math becomes a ``math`` fence, and each
  ``(label)=`` target gives the next heading its id or stays as an id inside the section
  (``meta["section_id"]``, read by ``ingest.sections``).
- :func:`resolve_inline` (after inline parsing): roles become links (``{ref}``,
  ``{numref}``, ``{eq}``, ``{doc}``), code spans (``{code}``, ``{math}``, ``$x$``) or their
  text; links to a label (``[](#label)``, ``<project:#label>``, a ``{ref}``) point at the
  label's html id on the page holding it (labels are global in MyST), and an empty link
  text becomes the target's title.
"""

from __future__ import annotations

import csv
import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from ingest.generators.myst_text import html_id, normalize_label
from ingest.includes import IncludeContext

MAX_DEPTH = 8
_INFO = re.compile(r"^\{(?P<name>[^\s{}]+)(?P<attrs>[^{}]*)\}\s*(?P<args>.*)$", re.S)
_OPTION = re.compile(r"^\s*:(?P<key>[\w-]+):(?:\s+(?P<value>.*?))?\s*$")
_ATTR_ID = re.compile(r"(?:^|\s)#(?P<id>[^\s#.]+)")
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>\s*$", re.S)
_ABBR = re.compile(r"^(?P<text>.*?)\s*\((?P<title>[^()]*)\)\s*$", re.S)
_LINES = re.compile(r"^(?P<start>\d+)?-(?P<end>\d+)?$|^(?P<one>\d+)$")
_PLACEHOLDERS = re.compile(r"%s|\{number\}|\{name\}")
_TEX_LABEL = re.compile(r"\\label\{([^{}]+)\}")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")

ADMONITIONS = {
    "attention": "Attention",
    "caution": "Caution",
    "danger": "Danger",
    "error": "Error",
    "important": "Important",
    "hint": "Hint",
    "note": "Note",
    "seealso": "See Also",
    "tip": "Tip",
    "warning": "Warning",
}
# Directives whose argument is a title the page shows.
TITLED = frozenset(
    {
        "admonition",
        "dropdown",
        "card",
        "grid-item-card",
        "tab-item",
        "tab",
        "topic",
        "sidebar",
        "aside",
        "margin",
        "exercise",
        "proof",
        "details",
        "glossary-term",
    }
)
CODE = frozenset({"code", "code-block", "sourcecode", "code-cell"})
DEMOS = frozenset({"myst", "myst:demo"})  # syntax demos: source and rendered side by side
CAPTIONED_TABLES = frozenset({"table", "list-table", "csv-table"})
# Directives the reader never sees as text on the page.
DROPPED = frozenset(
    {
        "toctree",
        "toc",
        "tableofcontents",
        "index",
        "show-index",
        "bibliography",
        "embed",
        "image",
        "raw",
        "meta",
        "include-missing",
    }
)
CODE_ROLES = frozenset({"code", "math", "m", "samp", "literal", "command", "file", "envvar"})
LINK_ROLES = frozenset({"ref", "numref", "eq", "doc", "prf:ref", "proof:ref", "button"})
DROPPED_ROLES = frozenset({"eval", "footcite", "index-entry"})
_LANGUAGES = {".py": "python", ".js": "javascript", ".ts": "typescript", ".yml": "yaml"}


@dataclass
class Directive:
    """One directive as written: name, argument, options, body and where the body starts
    (0-based line of the page)."""

    name: str
    args: str
    options: dict[str, Any]
    body: str
    body_line: int
    token: Token
    labels: list[str] = field(default_factory=list)  # identifiers (``normalize_label``)

    def option(self, *keys: str) -> str:
        for key in keys:
            value = self.options.get(key)
            if value is not None and str(value).strip():
                return str(value).strip()
        return ""


@dataclass
class _Run:
    """What one expansion needs: the parser state, the file includes are relative to and
    how deep includes and directives nest."""

    state: StateCore
    base: Path | None
    depth: int = 0


def _read_options(lines: list[str]) -> tuple[dict[str, Any], int]:
    """The options at the top of a directive's content, and how many lines they take."""
    if lines and lines[0].strip() == "---":
        for end in range(1, len(lines)):
            if lines[end].strip() == "---":
                try:
                    data = yaml.safe_load("\n".join(lines[1:end]))
                except yaml.YAMLError:
                    data = None
                return (data if isinstance(data, dict) else {}), end + 1
        return {}, 0
    options: dict[str, Any] = {}
    count = 0
    for line in lines:
        match = _OPTION.match(line)
        if match is None:
            break
        options[match.group("key")] = match.group("value") or ""
        count += 1
    return options, count


def parse_directive(token: Token) -> Directive | None:
    """The directive a fence holds, or None for a plain code block."""
    match = _INFO.match(token.info.strip())
    if match is None:
        return None
    lines = token.content.split("\n")
    options, used = _read_options(lines)
    attrs = match.group("attrs")
    ids = [m.group("id") for m in _ATTR_ID.finditer(attrs)]
    label = options.get("label") or options.get("name")
    if isinstance(label, str) and label.strip():
        ids.append(label.strip())
    start = (token.map[0] + 1) if token.map else 0
    return Directive(
        name=match.group("name").lower(),
        args=match.group("args").strip(),
        options=options,
        body="\n".join(lines[used:]),
        body_line=start + used,
        token=token,
        labels=[normalize_label(i) for i in ids if html_id(normalize_label(i))],
    )


def _token(
    kind: str,
    tag: str,
    nesting: Literal[-1, 0, 1],
    like: Token,
    labels: Sequence[str] = (),
    **meta: Any,
) -> Token:
    """A block token placed like ``like``; its first label's html id (if any) is an id
    inside the section (``meta["section_id"]``, read by ``ingest.sections.token_ids``)."""
    token = Token(kind, tag, nesting)
    token.block = True
    token.map = like.map
    token.level = like.level
    token.meta = dict(meta)
    if labels:
        token.meta["section_id"] = html_id(labels[0])
        token.meta["myst_labels"] = list(labels)
    return token


def _inline(content: str, like: Token) -> Token:
    token = _token("inline", "", 0, like)
    token.block = False
    token.content = content
    token.children = []
    return token


def _paragraph(content: str, like: Token) -> list[Token]:
    if not content.strip():
        return []
    return [
        _token("paragraph_open", "p", 1, like),
        _inline(content, like),
        _token("paragraph_close", "p", -1, like),
    ]


def _fence(code: str, language: str, like: Token, labels: Sequence[str] = ()) -> Token:
    token = _token("fence", "code", 0, like, labels)
    token.info = language
    token.markup = "```"
    token.content = code if code.endswith("\n") or not code else code + "\n"
    return token


def _nested(tokens: list[Token], like: Token) -> list[Token]:
    """Tokens of a body, one level below ``like``."""
    for token in tokens:
        token.level += like.level + 1
    return tokens


def _wrap(inner: list[Token], like: Token, labels: Sequence[str]) -> list[Token]:
    """An untitled container: its content counts, the wrapper shows nothing."""
    opening = _token("myst_directive_open", "div", 1, like, labels)
    return [opening, *_nested(inner, like), _token("myst_directive_close", "div", -1, like)]


def _titled(directive: Directive, title: str, explicit: bool, inner: list[Token]) -> list[Token]:
    """An admonition-like container with its title (indexed when written out)."""
    like = directive.token
    opening = _token(
        "admonition_open",
        "aside",
        1,
        like,
        directive.labels,
        explicit_title=explicit,
    )
    opening.meta["tag"] = directive.name
    opening.attrs = {"class": f"admonition {directive.name.replace(':', '-')}"}
    title_tokens = [
        _token("admonition_title_open", "p", 1, like),
        _inline(title, like),
        _token("admonition_title_close", "p", -1, like),
    ]
    for token in title_tokens:
        token.level = like.level + 1
    title_tokens[1].level += 1
    return [
        opening,
        *title_tokens,
        *_nested(inner, like),
        _token("admonition_close", "aside", -1, like),
    ]


def _parse(text: str, run: _Run, line: int, base: Path | None = None) -> list[Token]:
    """Markdown text parsed and expanded (nested directives), its lines from ``line``."""
    if not text.strip() or run.depth >= MAX_DEPTH:
        return []
    tokens: list[Token] = []
    state = run.state
    state.md.block.parse(text, state.md, state.env, tokens)
    inner = _Run(state, base or run.base, run.depth + 1)
    tokens = expand(tokens, inner)
    for token in tokens:
        if token.map:
            token.map = [token.map[0] + line, token.map[1] + line]
    return tokens


def _caption(directive: Directive) -> list[Token]:
    caption = directive.option("caption", "filename", "title")
    return _paragraph(caption, directive.token)


def _code(directive: Directive) -> list[Token]:
    language = directive.args.split()[0] if directive.args else directive.option("language")
    code = directive.body.strip("\n")
    return [*_caption(directive), _fence(code, language, directive.token, directive.labels)]


def _context(run: _Run) -> IncludeContext | None:
    context = run.state.env.get("includes")
    return context if isinstance(context, IncludeContext) else None


def _read(directive: Directive, run: _Run) -> tuple[Path, str] | None:
    """The file an ``include``/``literalinclude`` names, or None (with a warning)."""
    context = _context(run)
    if context is None or not directive.args:
        return None
    base = run.base or context.page
    found = context.read(base, directive.args)
    if isinstance(found, str):
        context.warn(found, directive.token)
        return None
    return found


def _line_range(text: str, spec: str) -> str:
    """``:lines: 2-5`` (1-based, inclusive; comma-separated parts)."""
    lines = text.split("\n")
    kept: list[str] = []
    for part in spec.split(","):
        match = _LINES.match(part.strip())
        if match is None:
            return text
        if match.group("one"):
            n = int(match.group("one"))
            kept.extend(lines[n - 1 : n])
            continue
        start = int(match.group("start") or 1)
        end = int(match.group("end")) if match.group("end") else len(lines)
        kept.extend(lines[start - 1 : end])
    return "\n".join(kept)


def _selected(text: str, directive: Directive) -> str:
    """The part of an included file its options select: ``:lines:``, ``:start-at:`` /
    ``:start-after:``, ``:end-before:`` / ``:end-at:``."""
    if spec := directive.option("lines"):
        text = _line_range(text, spec)
    lines = text.split("\n")
    start = 0
    if marker := directive.option("start-at", "start-after"):
        found = next((i for i, line in enumerate(lines) if marker in line), None)
        if found is not None:
            start = found + (1 if directive.option("start-after") else 0)
    end = len(lines)
    if marker := directive.option("end-before", "end-at"):
        found = next((i for i, line in enumerate(lines) if i >= start and marker in line), None)
        if found is not None:
            end = found + (1 if directive.option("end-at") else 0)
    return "\n".join(lines[start:end])


def _literalinclude(directive: Directive, run: _Run) -> list[Token]:
    found = _read(directive, run)
    if found is None:
        return _wrap(_caption(directive), directive.token, directive.labels)
    path, text = found
    text = _selected(text, directive)
    suffix = path.suffix.lower()
    language = directive.option("language", "lang") or _LANGUAGES.get(suffix, suffix.lstrip("."))
    fence = _fence(text.strip("\n"), language, directive.token, directive.labels)
    return [*_caption(directive), fence]


def _include(directive: Directive, run: _Run) -> list[Token]:
    found = _read(directive, run)
    if found is None:
        return []
    path, text = found
    text = _selected(text, directive)
    if "literal" in directive.options or path.suffix.lower() not in (".md", ".markdown"):
        language = directive.option("language", "lang") or path.suffix.lstrip(".")
        return [_fence(text.strip("\n"), language, directive.token)]
    inner = _parse(text, run, 0, base=path)
    for token in inner:
        token.map = directive.token.map  # lines of the including page
        token.level += directive.token.level
    return inner


def _cell_contents(tokens: list[Token]) -> list[list[str]]:
    """Rows of a two-level bullet list (``list-table``): each cell's inline contents."""
    rows: list[list[str]] = []
    depth = 0
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            depth -= 1
        elif token.type == "list_item_open" and depth == 1:
            rows.append([])
        elif token.type == "list_item_open" and depth == 2 and rows:
            rows[-1].append("")
        elif token.type in ("inline", "fence", "code_block") and rows and rows[-1]:
            text = token.content.strip()
            rows[-1][-1] = f"{rows[-1][-1]}\n{text}".strip() if text else rows[-1][-1]
    return rows


def _table(
    rows: list[list[str]], header_rows: int, like: Token, labels: Sequence[str]
) -> list[Token]:
    """Table tokens as markdown-it makes them (header rows in ``thead``)."""
    out = [_token("table_open", "table", 1, like, labels)]

    def section(kind: str, cell: str, chunk: list[list[str]]) -> None:
        if not chunk:
            return
        out.append(_token(f"{kind}_open", kind, 1, like))
        for row in chunk:
            out.append(_token("tr_open", "tr", 1, like))
            for text in row:
                out.append(_token(f"{cell}_open", cell, 1, like))
                out.append(_inline(text.replace("\n", " "), like))
                out.append(_token(f"{cell}_close", cell, -1, like))
            out.append(_token("tr_close", "tr", -1, like))
        out.append(_token(f"{kind}_close", kind, -1, like))

    section("thead", "th", rows[:header_rows])
    section("tbody", "td", rows[header_rows:])
    out.append(_token("table_close", "table", -1, like))
    for token in out[1:-1]:
        token.level = like.level + 1
    return out


def _header_rows(directive: Directive) -> int:
    try:
        return int(directive.option("header-rows") or 0)
    except ValueError:
        return 0


def _tables(directive: Directive, run: _Run) -> list[Token]:
    like = directive.token
    caption = _paragraph(directive.args, like)
    if directive.name == "table":
        return [
            *caption,
            *_wrap(_parse(directive.body, run, directive.body_line), like, directive.labels),
        ]
    if directive.name == "csv-table":
        lines = directive.body.strip().splitlines(keepends=True)
        rows = [[c.replace("\n", " ") for c in r] for r in csv.reader(lines, skipinitialspace=True)]
        header = directive.option("header")
        head = list(csv.reader([header], skipinitialspace=True)) if header else []
        count = len(head) + _header_rows(directive)
        return [*caption, *_table(head + rows, count, like, directive.labels)]
    rows = _cell_contents(_parse(directive.body, run, directive.body_line))
    if not rows:
        return caption
    return [*caption, *_table(rows, _header_rows(directive), like, directive.labels)]


def render(directive: Directive, run: _Run) -> list[Token]:
    """The tokens that stand for a directive on the page."""
    name, like = directive.name, directive.token
    if name in DROPPED or name.startswith("raw:"):
        return _wrap([], like, directive.labels) if directive.labels else []
    if name in CODE:
        return _code(directive)
    if name in ("math", "mermaid"):
        labels = [*directive.labels, *_tex_labels(directive.body)]
        return [_fence(directive.body.strip("\n"), name, like, labels)]
    if name == "literalinclude":
        return _literalinclude(directive, run)
    if name == "include":
        return _include(directive, run)
    if name in CAPTIONED_TABLES:
        return _tables(directive, run)
    body = _parse(directive.body, run, directive.body_line)
    if name in DEMOS:  # the page shows the source, then what it renders
        source = _fence(directive.body.strip("\n"), "markdown", like, [])
        return [source, *_wrap(body, like, directive.labels)]
    if name in ADMONITIONS:
        explicit = bool(directive.args)
        return _titled(directive, directive.args or ADMONITIONS[name], explicit, body)
    if name in TITLED or name.startswith(("proof:", "prf:")):
        title = directive.args
        link = directive.option("link")
        if title and link and not link.startswith(("#", "<")):
            title = f"[{title}]({link})"
        header = _paragraph(directive.option("header"), like)
        footer = _paragraph(directive.option("footer"), like)
        body = [*header, *body, *footer]
        if title:
            return _titled(directive, title, True, body)
    return _wrap(body, like, directive.labels)


def _tex_labels(math: str) -> list[str]:
    """``\\label{name}`` in math: the equation's labels."""
    return [normalize_label(m) for m in _TEX_LABEL.findall(math) if html_id(normalize_label(m))]


def _math(token: Token) -> Token:
    labels = [normalize_label(token.info)] if token.info.strip() else []
    labels += _tex_labels(token.content)
    fence = _fence(token.content.strip("\n"), "math", token, labels)
    fence.level = token.level
    return fence


def expand(tokens: list[Token], run: _Run) -> list[Token]:
    """Directive fences and ``$$`` math replaced by what they stand for."""
    out: list[Token] = []
    for token in tokens:
        if token.type in ("fence", "colon_fence"):
            directive = parse_directive(token)
            if directive is not None:
                out.extend(render(directive, run))
                continue
            if token.type == "colon_fence":
                token.type = "fence"
        elif token.type in ("math_block", "math_block_label", "amsmath"):
            out.append(_math(token))
            continue
        out.append(token)
    return out


def _bind_targets(tokens: list[Token]) -> None:
    """``(label)=`` names the next heading (its id), else it is an id inside the
    section."""
    for i, token in enumerate(tokens):
        if token.type != "myst_target":
            continue
        identifier = normalize_label(token.content)
        anchor = html_id(identifier)
        token.meta = {"identifier": identifier, "anchor": anchor}
        following = next(
            (t for t in tokens[i + 1 :] if t.type not in ("myst_target", "myst_line_comment")),
            None,
        )
        if (
            following is not None
            and following.type == "heading_open"
            and not following.attrGet("id")
            and anchor
        ):
            following.attrSet("id", anchor)
            following.meta["explicit_id"] = True
            following.meta["myst_label"] = identifier
        elif anchor:
            token.meta["section_id"] = anchor


def expand_directives(state: StateCore) -> None:
    """Core rule after block parsing: see the module docstring."""
    context = state.env.get("includes")
    base = context.page if isinstance(context, IncludeContext) else None
    state.tokens = expand(state.tokens, _Run(state, base))
    _bind_targets(state.tokens)


# Inline: roles, math and label links ------------------------------------------------


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def _explicit(content: str) -> tuple[str, str]:
    """``text <target>`` -> (text, target); ``target`` alone -> ("", target)."""
    match = _EXPLICIT.match(content)
    if match:
        return match.group("text").strip(), match.group("target").strip()
    return "", content.strip()


def _link(href: str, text: str) -> list[Token]:
    opening = Token("link_open", "a", 1)
    opening.attrs = {"href": href}
    opening.meta = {"myst_role": True}
    closing = Token("link_close", "a", -1)
    return [opening, *([_text(text)] if text else []), closing]


def _doc_href(target: str) -> str:
    path, _, fragment = target.partition("#")
    if path and not posixpath.splitext(path)[1]:
        path += ".md"
    return f"{path}#{fragment}" if fragment else path


def role(token: Token) -> list[Token]:
    """The tokens a ``{name}`content``` role stands for."""
    name = str(token.meta.get("name", "")).lower()
    content = token.content
    if name in DROPPED_ROLES or name.startswith(("cite", "raw")):
        return []
    if name in CODE_ROLES:
        code = Token("code_inline", "code", 0)
        code.content = content
        code.markup = "`"
        return [code]
    if name in LINK_ROLES:
        text, target = _explicit(content)
        text = " ".join(_PLACEHOLDERS.sub("", text).split())
        if name == "doc":
            return _link(_doc_href(target), text or posixpath.basename(target))
        if name == "button":
            return _link(target, text) if text else [_text(target)]
        return _link(f"#{target}", text)
    if name == "abbr":
        match = _ABBR.match(content)
        return [_text(match.group("text") if match else content)]
    text, target = _explicit(content)
    return [_text(text or target)]


@dataclass
class _Labels:
    """Where labels resolve for one page: its own, then the project's."""

    page: str
    local: dict[str, tuple[str, str]]  # identifier -> (html id, title)
    project: Mapping[str, Any]  # identifier -> [file, html id, title]

    def find(self, label: str) -> tuple[str, str] | None:
        """``(href, title)`` of a label, or None when no page holds it."""
        for key in (label, normalize_label(label)):
            if key in self.local:
                anchor, title = self.local[key]
                return (f"#{anchor}" if anchor else posixpath.basename(self.page)), title
        for key in (label, normalize_label(label)):
            found = self.project.get(key)
            if isinstance(found, list | tuple) and len(found) == 3:
                rel, anchor, title = (str(v) for v in found)
                if rel == self.page and anchor:
                    return f"#{anchor}", title
                start = posixpath.dirname(self.page) or "."
                path = posixpath.relpath(rel, start)
                return (f"{path}#{anchor}" if anchor else path), title
        return None

    def fragment(self, path: str, fragment: str) -> tuple[str, str]:
        """A ``page.md#label`` fragment as the label's html id on that page, and the
        label's title."""
        target = posixpath.normpath(posixpath.join(posixpath.dirname(self.page), path))
        found = self.project.get(normalize_label(fragment))
        if isinstance(found, list | tuple) and len(found) == 3 and found[0] == target:
            return str(found[1]), str(found[2])
        return fragment, ""


def _plain(token: Token | None) -> str:
    if token is None:
        return ""
    return " ".join(
        "".join(
            c.content for c in token.children or [] if c.type in ("text", "code_inline")
        ).split()
    )


def _page_label(front_matter: str) -> str:
    """A page's own label (front matter ``label:``): a link to it opens the page."""
    try:
        data = yaml.safe_load(front_matter)
    except yaml.YAMLError:
        return ""
    label = data.get("label") if isinstance(data, dict) else None
    return normalize_label(label) if isinstance(label, str) else ""


def _local_labels(tokens: Sequence[Token]) -> dict[str, tuple[str, str]]:
    """A page's own targets: labels, implicit heading ids, directive labels."""
    local: dict[str, tuple[str, str]] = {}
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            title = _plain(tokens[i + 1] if i + 1 < len(tokens) else None)
            label = token.meta.get("myst_label")
            if isinstance(label, str):
                local.setdefault(label, (str(token.attrGet("id")), title))
            elif implicit := html_id(normalize_label(title)):
                local.setdefault(implicit, (implicit, title))
            if token.level > 0 and not token.meta.get("section_id"):
                # A heading inside a directive (a demo, a tip) is no section of its own,
                # but its id is on the page.
                anchor = str(token.attrGet("id") or html_id(normalize_label(title)))
                token.attrSet("id", anchor)
                token.meta["section_id"] = anchor
        elif token.type == "front_matter" and (label := _page_label(token.content)):
            local.setdefault(label, ("", ""))
        elif token.type == "myst_target" and token.meta.get("section_id"):
            local.setdefault(str(token.meta["identifier"]), (str(token.meta["anchor"]), ""))
        for label in token.meta.get("myst_labels") or ():
            local.setdefault(str(label), (html_id(str(label)), ""))
    return local


def _children(children: list[Token]) -> Iterator[Token]:
    for child in children:
        if child.type == "myst_role":
            yield from role(child)
        elif child.type in ("math_inline", "math_inline_double"):
            code = Token("code_inline", "code", 0)
            code.content = child.content
            code.markup = "`"
            yield code
        else:
            yield child


def _resolve_links(children: list[Token], labels: _Labels) -> list[Token]:
    out: list[Token] = []
    for i, child in enumerate(children):
        out.append(child)
        if child.type != "link_open":
            continue
        href = str(child.attrGet("href") or "")
        autolink = child.markup == "autolink"
        if href.startswith("project:"):
            href = href[len("project:") :]
        title = fallback = ""
        if href.startswith("#"):
            fallback = href[1:]
            found = labels.find(href[1:])
            if found is not None:
                href, title = found
        elif "#" in href and not _SCHEME.match(href):
            path, _, fragment = href.partition("#")
            anchor, title = labels.fragment(path, fragment)
            href = f"{path}#{anchor}"
        child.attrSet("href", href)
        following = children[i + 1] if i + 1 < len(children) else None
        empty = following is not None and following.type == "link_close"
        if autolink and following is not None and following.type == "text":
            following.content = title or fallback or following.content.removeprefix("project:")
        elif empty and (title or fallback):
            out.append(_text(title or fallback))
    return out


def resolve_inline(state: StateCore) -> None:
    """Core rule after inline parsing: see the module docstring."""
    context = state.env.get("includes")
    page = context.rel if isinstance(context, IncludeContext) else ""
    options = state.env.get("site_options")
    project = options.get("labels") if isinstance(options, Mapping) else None
    for token in state.tokens:
        if token.type == "inline" and token.children:
            token.children = list(_children(token.children))
    labels = _Labels(
        page, _local_labels(state.tokens), project if isinstance(project, Mapping) else {}
    )
    for token in state.tokens:
        if token.type == "inline" and token.children:
            token.children = _resolve_links(token.children, labels)
