"""Block syntax of site generators that no markdown-it plugin covers, as block rules.

- ``!!! note "Title"``, ``??? tip``, ``???+ example`` admonitions, as Python-Markdown reads
  them: the block is every following line indented past the marker, blank lines
  included (mdit-py-plugins' ``admon`` closes at two blank lines, which cuts admonitions
  holding code in half); tokens as that plugin makes them (``admonition_open`` ...).
- ``=== "Python 3.10"`` content tabs (pymdownx.tabbed): the indented content is a block of
  its own, not an indented code block; token ``tab_open`` / ``tab_close``.
- ``::: package.Object`` API stubs (mkdocstrings) with their indented options: token
  ``api_stub`` (nothing a reader sees on the page is in it).
- Hugo shortcodes on a line of their own (``{{< hint info >}}``, ``{{% /notice %}}``) and
  template lines (``{{ libraries }}``): token ``shortcode`` (an optional title in
  ``meta``).
- Include directives (``--8<-- "file"``, ``{* file *}``, ``{!file!}``, Hugo ``readfile``):
  token ``include`` with the target in ``meta``, resolved by ``ingest.includes``.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.ruler import RuleOptionsType
from markdown_it.rules_block import StateBlock

_ADMONITION = re.compile(  # Python-Markdown's own pattern
    r'^(?P<marker>!!!|\?\?\?\+?) ?(?P<tags>[\w-]+(?: +[\w-]+)*)(?: +"(?P<title>.*)")? *$'
)
_TAB = re.compile(r'^(={3})(!?\+?)\s+"(?P<title>[^"]*)"\s*$')
_API_STUB = re.compile(r"^:::\s+(?P<target>[\w][\w.:-]*)\s*$")
_SHORTCODE = re.compile(
    r"^\{\{(?P<open>[<%])\s*(?P<close>/)?\s*(?P<name>[\w./-]+)(?P<args>.*?)\s*[>%]\}\}\s*$"
)
_TEMPLATE_LINE = re.compile(r"^\{\{-?\s[^{}]*\s-?\}\}\s*$")
_QUOTED = re.compile(r'"([^"]*)"')
_TITLE_ARG = re.compile(r'\btitle\s*=\s*"([^"]*)"')
_FILE_ARG = re.compile(r'(?:\bfile\s*=\s*)?"([^"]+)"')
_SNIPPET = re.compile(r'^-{1,3}8<-{1,3}\s+(?P<q>["\'])(?P<target>[^"\']+)(?P=q)\s*$')
_SNIPPET_FENCE = re.compile(r"^-{1,3}8<-{1,3}\s*$")
_FASTAPI_INCLUDE = re.compile(r"^\{\*\s+(?P<target>\S+)(?P<args>[^*]*)\*\}\s*$")
_MARKDOWN_INCLUDE = re.compile(r"^\{!>?\s*(?P<target>[^!]+?)\s*!\}\s*$")
INCLUDE_SHORTCODES = frozenset({"readfile", "include", "snippet", "code"})


def _line(state: StateBlock, number: int) -> str:
    return state.src[state.bMarks[number] + state.tShift[number] : state.eMarks[number]]


def _indented_end(state: StateBlock, start: int, end: int, indent: int) -> int:
    """The first line after ``start`` that is not blank or indented past ``indent``."""
    line = start + 1
    last = start + 1
    while line < end:
        if state.isEmpty(line):
            line += 1
            continue
        if state.sCount[line] <= indent:
            break
        line += 1
        last = line
    return last


def _nested(state: StateBlock, start: int, stop: int, kind: str) -> None:
    """Tokenize lines ``start+1 .. stop`` as a block indented past line ``start``."""
    old_parent, old_max, old_indent = state.parentType, state.lineMax, state.blkIndent
    state.parentType = kind
    state.lineMax = stop
    state.blkIndent = state.sCount[start] + 4
    state.md.block.tokenize(state, start + 1, stop)
    state.parentType, state.lineMax, state.blkIndent = old_parent, old_max, old_indent
    state.line = stop


def admonition(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """``!!! type "Title"`` / ``??? type`` followed by indented content."""
    if state.is_code_block(start):
        return False
    match = _ADMONITION.match(_line(state, start))
    if match is None:
        return False
    if silent:
        return True
    stop = _indented_end(state, start, end, state.sCount[start])
    tags = match.group("tags").lower().split()
    explicit = match.group("title")
    title = explicit if explicit is not None else tags[0].title()
    token = state.push("admonition_open", "div", 1)
    token.block = True
    token.markup = match.group("marker")
    token.attrs = {"class": " ".join(["admonition", *tags])}
    token.meta = {"tag": tags[0], "explicit_title": bool(explicit)}
    token.info = _line(state, start)[len(token.markup) :].strip()
    token.content = title
    token.map = [start, stop]
    if title:
        state.push("admonition_title_open", "p", 1).attrs = {"class": "admonition-title"}
        inline = state.push("inline", "", 0)
        inline.content = title
        inline.map = [start, start + 1]
        inline.children = []
        state.push("admonition_title_close", "p", -1)
    _nested(state, start, stop, "admonition")
    state.push("admonition_close", "div", -1).block = True
    return True


def tabbed(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """``=== "Title"`` followed by indented content."""
    if state.is_code_block(start):
        return False
    match = _TAB.match(_line(state, start))
    if match is None:
        return False
    if silent:
        return True
    stop = _indented_end(state, start, end, state.sCount[start])
    token = state.push("tab_open", "div", 1)
    token.block = True
    token.meta = {"title": match.group("title")}
    token.map = [start, stop]
    _nested(state, start, stop, "tab")
    state.push("tab_close", "div", -1).block = True
    return True


def api_stub(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """``::: package.module.Object`` and its indented options block."""
    if state.is_code_block(start):
        return False
    match = _API_STUB.match(_line(state, start))
    if match is None:
        return False
    target = match.group("target")
    if "." not in target and not state.env.get("api_stubs"):
        return False
    if silent:
        return True
    stop = _indented_end(state, start, end, state.sCount[start])
    token = state.push("api_stub", "", 0)
    token.block = True
    token.info = target
    token.map = [start, stop]
    state.line = stop
    return True


def shortcode(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """A Hugo shortcode or a template expression alone on its line."""
    if state.is_code_block(start):
        return False
    text = _line(state, start)
    if not text.startswith("{{"):
        return False
    match = _SHORTCODE.match(text)
    if match is None and not _TEMPLATE_LINE.match(text):
        return False
    if silent:
        return True
    token = state.push("shortcode", "", 0)
    token.block = True
    token.map = [start, start + 1]
    token.meta = {}
    if match is not None:
        name = match.group("name").lower()
        args = match.group("args")
        token.info = name
        if name in INCLUDE_SHORTCODES and not match.group("close"):
            target = _FILE_ARG.search(args)
            if target:
                token.type = "include"
                token.meta = {"target": target.group(1), "code": name == "code"}
        elif not match.group("close"):
            title = _TITLE_ARG.search(args) or _QUOTED.search(args)
            if title and title.group(1).strip():
                token.meta = {"title": title.group(1).strip()}
    state.line = start + 1
    return True


def include_directive(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """``--8<-- "file"`` (or its block form), ``{* file hl[3] *}``, ``{!file!}``."""
    if state.is_code_block(start):
        return False
    text = _line(state, start)
    if not text or text[0] not in "-{":
        return False
    targets: list[str] = []
    code = False
    stop = start + 1
    if match := _SNIPPET.match(text):
        targets = [match.group("target")]
    elif _SNIPPET_FENCE.match(text):
        line = start + 1
        while line < end and not _SNIPPET_FENCE.match(_line(state, line)):
            entry = _line(state, line).strip()
            if entry and not entry.startswith(";"):
                targets.append(entry.strip("\"'"))
            line += 1
        if line >= end:
            return False
        stop = line + 1
    elif match := _FASTAPI_INCLUDE.match(text):
        targets, code = [match.group("target")], True
    elif match := _MARKDOWN_INCLUDE.match(text):
        targets = [match.group("target")]
    else:
        return False
    if silent:
        return True
    for target in targets:
        token = state.push("include", "", 0)
        token.block = True
        token.map = [start, stop]
        token.meta = {"target": target, "code": code}
    state.line = stop
    return True


def blocks_plugin(md: MarkdownIt) -> None:
    """Register the block rules above (before fences, so they win over paragraphs)."""
    alt: RuleOptionsType = {"alt": ["paragraph", "reference", "blockquote", "list"]}
    md.block.ruler.before("fence", "include_directive", include_directive, alt)
    md.block.ruler.before("fence", "shortcode", shortcode, alt)
    md.block.ruler.before("fence", "tabbed", tabbed, alt)
    md.block.ruler.before("fence", "admonition", admonition, alt)
    md.block.ruler.before("fence", "api_stub", api_stub, alt)
