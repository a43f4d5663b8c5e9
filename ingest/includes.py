"""Resolve includes into the page, the way the generator does before the reader sees it.

``include`` tokens (from ``ingest.blocks``) and MDX partials (``import Intro from
'./_intro.md'`` + ``<Intro />``) are replaced by the included Markdown, parsed as part of
the page, or by a code block for source files (``{* ../docs_src/app.py hl[3] *}``).
A target is read only when it is a regular file inside the docs root; anything else is
dropped with a warning, never indexed as syntax. MDX ``import``/``export`` lines are
removed (Docusaurus and ``.mdx`` files only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from ingest.report import ContentWarning

MAX_DEPTH = 4
MAX_INCLUDE_BYTES = 1_000_000
_RANGE = re.compile(r"^(?P<path>.+?):(?P<start>\d+)(?::(?P<end>\d+))?$")
_NAMED = re.compile(r"^(?P<path>.+?\.\w+):(?P<name>[A-Za-z_][\w-]*)$")
_ESM = re.compile(
    r"^(?:import\s+(?:[\w*{}\s,]+\s+from\s+)?['\"][^'\"]+['\"]|"
    r"export\s+(?:const|let|var|function|default|class|async|\{))",
)
_PARTIAL_IMPORT = re.compile(r"import\s+(\w+)\s+from\s+['\"]([^'\"]+\.mdx?)['\"]")
_COMPONENT = re.compile(r"^\s*<([A-Z]\w*)(?:\s[^>]*)?/>\s*$")
_LANGUAGES = {
    ".py": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".ts": "typescript",
    ".tsx": "tsx",
    ".jsx": "jsx",
    ".json": "json",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".sh": "bash",
    ".html": "html",
    ".css": "css",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".sql": "sql",
}


@dataclass
class IncludeContext:
    """Per-page state for include resolution, kept in the parser's ``env``."""

    page: Path
    docs_root: Path
    mdx: bool
    warnings: list[ContentWarning] = field(default_factory=list)
    rel: str = ""
    partials: dict[str, str] = field(default_factory=dict)
    included: set[Path] = field(default_factory=set)  # files read (their changes count too)

    def warn(self, message: str, token: Token) -> None:
        line = token.map[0] + 1 if token.map else None
        self.warnings.append(ContentWarning(self.rel, message, line))

    def read(self, base: Path, target: str) -> tuple[Path, str] | str:
        """The included file and its text (cut to a line range or named section), or why
        it cannot be included."""
        path_part, start, stop, name = target, None, None, None
        if match := _NAMED.match(target):
            path_part, name = match.group("path"), match.group("name")
        elif match := _RANGE.match(target):
            path_part = match.group("path")
            start = int(match.group("start"))
            stop = int(match.group("end")) if match.group("end") else None
        candidates = [base.parent / path_part, self.docs_root / path_part.lstrip("/")]
        for candidate in candidates:
            try:
                real = candidate.resolve(strict=True)
            except (OSError, RuntimeError):
                continue
            if not real.is_relative_to(self.docs_root):
                return f"include '{target}' points outside the docs root; left out"
            if not real.is_file():
                continue
            if real.stat().st_size > MAX_INCLUDE_BYTES:
                return f"include '{target}' is over {MAX_INCLUDE_BYTES} bytes; left out"
            try:
                text = real.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                return f"include '{target}' is not readable UTF-8 text; left out"
            self.included.add(real)
            return real, _cut(text, start, stop, name)
        return f"include '{target}' was not found in the docs tree; left out"


def _cut(text: str, start: int | None, stop: int | None, name: str | None) -> str:
    lines = text.splitlines()
    if name is not None:
        begin = next((i for i, line in enumerate(lines) if f"[start:{name}]" in line), None)
        end = next((i for i, line in enumerate(lines) if f"[end:{name}]" in line), None)
        if begin is not None:
            lines = lines[begin + 1 : end if end is not None and end > begin else None]
    elif start is not None:
        lines = lines[start - 1 : stop]
    return "\n".join(lines) + "\n"


def _context(state: StateCore) -> IncludeContext | None:
    context = state.env.get("includes")
    return context if isinstance(context, IncludeContext) else None


def _strip_esm(state: StateCore, context: IncludeContext) -> None:
    """Remove top-level MDX ``import``/``export`` paragraphs; remember imported partials."""
    tokens = state.tokens
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if (
            token.type == "paragraph_open"
            and token.level == 0
            and i + 2 < len(tokens)
            and _ESM.match(tokens[i + 1].content)
        ):
            for name, target in _PARTIAL_IMPORT.findall(tokens[i + 1].content):
                context.partials[name] = target
            i += 3
            continue
        out.append(token)
        i += 1
    state.tokens = out


def _code_token(text: str, path: Path, like: Token) -> Token:
    token = Token("fence", "code", 0)
    token.info = _LANGUAGES.get(path.suffix.lower(), "")
    token.content = text
    token.markup = "```"
    token.block = True
    token.level = like.level
    token.map = like.map
    return token


def resolve_includes(state: StateCore) -> None:
    """Core rule (after block parsing): splice included content into the token stream."""
    context = _context(state)
    if context is None:
        return
    if context.mdx or context.page.suffix.lower() == ".mdx":
        _strip_esm(state, context)
    tokens = state.tokens
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type == "html_block" and context.partials:
            match = _COMPONENT.match(token.content)
            if match and match.group(1) in context.partials:
                token.type = "include"
                token.meta = {"target": context.partials[match.group(1)], "code": False}
        if token.type != "include":
            i += 1
            continue
        base = Path(token.meta.get("base") or context.page)
        depth = int(token.meta.get("depth", 0))
        target = str(token.meta.get("target", ""))
        found = context.read(base, target) if depth < MAX_DEPTH else "includes nest too deep"
        if isinstance(found, str):
            context.warn(found, token)
            token.type = "include_missing"
            i += 1
            continue
        path, text = found
        if token.meta.get("code") or path.suffix.lower() not in (".md", ".mdx", ".markdown"):
            tokens[i : i + 1] = [_code_token(text, path, token)]
            i += 1
            continue
        spliced: list[Token] = []
        state.md.block.parse(text, state.md, state.env, spliced)
        for inner in spliced:
            inner.level += token.level
            inner.map = token.map  # lines of the including page
            if inner.type == "include":
                inner.meta = {**inner.meta, "base": str(path), "depth": depth + 1}
        tokens[i : i + 1] = spliced  # nested includes are visited next


def includes_plugin(md: MarkdownIt) -> None:
    """Register :func:`resolve_includes` right after block parsing."""
    md.core.ruler.after("block", "includes", resolve_includes)


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form (for messages)."""
    try:
        return str(PurePosixPath(path.relative_to(root).as_posix()))
    except ValueError:
        return str(path)
