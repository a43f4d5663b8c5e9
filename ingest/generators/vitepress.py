"""vitepress: VitePress sites, read the way VitePress builds them.

- Detected from ``.vitepress/config.{js,ts,mjs,mts,cjs,cts}`` (or ``.vitepress/config/
  index.*``) in the content folder or a parent; without it, from syntax only VitePress
  writes (``::: code-group``, ``::: tip`` with its space, twoslash ``// ---cut---``,
  ``<<< ./file`` snippet imports, ``[[toc]]``, ``<script setup>``).
- Settings come from the config read as text (it is TypeScript and never run): ``base``,
  ``cleanUrls``, ``srcDir``, ``srcExclude`` and a static ``rewrites`` map, found among
  the config object's own keys (``base`` in a sidebar entry is not the site's).
- Page URLs: ``guide/features.md`` -> ``guide/features`` (``cleanUrls``) or
  ``guide/features.html``; ``config/index.md`` -> ``config/``; ``rewrites`` first; paths
  from ``srcDir`` when the content folder holds it. ``base`` is part of the site URL
  (``KB_SITE_URL``), as the docs' own ``/guide/x`` links leave it out.
- Anchors: ``@mdit-vue/shared``'s ``slugify`` over a heading's text tokens without its
  inline HTML (so ``## input <Badge text="x" />`` is ``#input``, though the page shows
  the badge), entities as written (VitePress restores them), repeats ``-1``, ``-2`` in
  page order over every heading (the H1 and headings inside containers included), as
  markdown-it-anchor counts them; ``{#id}`` as written.
- Syntax becomes what the reader sees: ``::: tip Title`` containers (read by the shared
  ``:::`` container rule: the title is a line, the default "TIP" is not indexed);
  fences lose the ``[label]``, ``{1,3}`` and ``twoslash`` of their info (the language
  alone stays) and keep the label as a line above their code (a code group's tab, a
  file's title bar); twoslash fences lose what twoslash never shows (above ``// ---cut---``,
  below ``// ---cut-after---``, between ``// ---cut-start---``/``// ---cut-end---``,
  ``// @errors``-style flag lines and ``// ^?`` query lines; ``// @filename`` lines stay,
  as twoslash shows them); ``<<< ./file.ext#region {1,2 lang} [label]`` and
  ``<!-- @include: ./part.md -->`` are read from the docs tree (regions as VitePress finds
  them) or dropped with a warning; ``[[toc]]``, ``<script setup>``/``<style>`` blocks and
  Vue ``{{ expressions }}`` disappear; Vue components keep their visible text (a
  ``<Badge text="x" />`` its text; ``<template #slot>`` content shows, as Vue renders it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from ingest.anchors import AnchorSlugger
from ingest.generators import Generator, Options
from ingest.includes import MAX_DEPTH, IncludeContext

_EXTENSIONS = ("js", "ts", "mjs", "mts", "cjs", "cts")
CONFIG_NAMES = tuple(f".vitepress/config.{ext}" for ext in _EXTENSIONS) + tuple(
    f".vitepress/config/index.{ext}" for ext in _EXTENSIONS
)

SIGNALS = re.compile(
    r"^(?:::: ?(?:code-group|details|v-pre|raw)\b|::: (?:tip|info|warning|danger|note)\b"
    r"|[\t ]*// ---cut(?:-before|-after|-start|-end)?---\s*$|[\t ]*<<< ?[@./]|\[\[toc\]\]\s*$"
    r"|<script setup\b|[\t ]*<!--\s*@include:)",
    re.M,
)

# --- The config, read as text ------------------------------------------------------------

# Keys only the config object itself has (``title`` or ``base`` may sit deeper too).
_TOP_KEYS = frozenset(
    {
        "themeConfig",
        "cleanUrls",
        "srcDir",
        "srcExclude",
        "rewrites",
        "markdown",
        "head",
        "locales",
        "lastUpdated",
        "outDir",
        "cacheDir",
        "ignoreDeadLinks",
        "titleTemplate",
        "appearance",
        "sitemap",
        "buildEnd",
        "transformHead",
        "transformPageData",
        "metaChunk",
        "mpa",
    }
)
_KEY = re.compile(r"(?<![\w$.])([A-Za-z_$][\w$]*)\s*:(?!:)")
_STRING = re.compile(r"""'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"|`([^`$\\]*)`""")


def _masked(source: str) -> tuple[str, str, list[int]]:
    """The source with comments blanked (``code``), also with string contents blanked
    (``bare``: where keys are looked for), and the nesting depth (of ``{[(``) at each
    character (brackets in strings and comments do not count)."""
    code = list(source)
    bare = list(source)
    depth = [0] * (len(source) + 1)
    level, i, n = 0, 0, len(source)
    while i < n:
        char = source[i]
        depth[i] = level
        if source.startswith("//", i) or source.startswith("/*", i):
            end = source.find("\n" if source[i + 1] == "/" else "*/", i + 2)
            end = n if end < 0 else end if source[i + 1] == "/" else end + 2
            for j in range(i, end):
                if source[j] != "\n":
                    code[j] = bare[j] = " "
                depth[j] = level
            i = end
            continue
        if char in "'\"`":
            j = i + 1
            while j < n and source[j] != char:
                j += 2 if source[j] == "\\" else 1
            for k in range(i, min(j + 1, n)):
                depth[k] = level
                if i < k < j:
                    bare[k] = " "
            i = j + 1
            continue
        if char in "{[(":
            level += 1
        elif char in "}])":
            level = max(level - 1, 0)
        i += 1
    return "".join(code), "".join(bare), depth


def _value(text: str, start: int) -> str:
    """The literal text of a value starting at ``start``, up to the comma or brace that
    ends it at its own depth."""
    level, i = 0, start
    quote = ""
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char in "{[(":
            level += 1
        elif char in "}])":
            if level == 0:
                break
            level -= 1
        elif char == "," and level == 0:
            break
        i += 1
    return text[start:i].strip()


def _strings(text: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None) for m in _STRING.finditer(text)]


def _literal_string(text: str) -> str | None:
    match = _STRING.fullmatch(text.strip())
    return next(g for g in match.groups() if g is not None) if match else None


def config_keys(source: str) -> dict[str, str]:
    """The config object's own keys and their values as written (the object whose keys
    include ``themeConfig``, ``cleanUrls``, ``srcDir`` ...: the shallowest such)."""
    code, bare, depth = _masked(source)
    found = [(depth[m.start()], m.group(1), m.end()) for m in _KEY.finditer(bare)]
    levels = [level for level, key, _ in found if key in _TOP_KEYS]
    if not levels:
        return {}
    top = min(levels)
    keys: dict[str, str] = {}
    for level, key, end in found:
        if level == top:
            keys.setdefault(key, _value(code, end))
    return keys


def _config_sources(config: Path) -> list[str]:
    """The config's text; a ``.vitepress/config/`` folder's every script."""
    paths = [config]
    if config.parent.name == "config":
        paths += sorted(
            p for p in config.parent.iterdir() if p.suffix[1:] in _EXTENSIONS and p != config
        )
    texts = []
    for path in paths:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    return texts


def _project_root(config: Path) -> Path:
    """The folder that holds ``.vitepress`` (VitePress' ``root``)."""
    vitepress = config.parent if config.parent.name == ".vitepress" else config.parent.parent
    return vitepress.parent


def _exclude_pattern(glob: str, prefix: str, offset: str) -> str | None:
    """A ``srcExclude`` glob (relative to ``srcDir``) in gitignore syntax relative to the
    content folder (``prefix``: where ``srcDir`` is in it; ``offset``: where the content
    folder is in ``srcDir``). None: it names nothing in the content folder."""
    glob = glob.strip().removeprefix("./").lstrip("/")
    if not glob or glob.startswith("!"):
        return None
    if glob.startswith("**/"):
        return f"/{prefix}/{glob}" if prefix else glob
    if offset:
        if not glob.startswith(offset + "/"):
            return None
        glob = glob[len(offset) + 1 :]
    return f"/{prefix}/{glob}" if prefix else f"/{glob}"


def read_options(config: Path | None, content_dir: Path) -> dict[str, Any]:
    """``clean_urls``, ``base`` (for the record: ``KB_SITE_URL`` includes it),
    ``src_dir``, ``src_prefix`` (where ``srcDir`` is in the content folder), ``rewrites``
    and ``exclude`` (``srcExclude``) from the config (VitePress' defaults without one)."""
    options: dict[str, Any] = {"clean_urls": False, "base": "/", "rewrites": [], "exclude": []}
    if config is None:
        return options
    keys: dict[str, str] = {}
    for source in _config_sources(config):
        for key, value in config_keys(source).items():
            keys.setdefault(key, value)
    if keys.get("cleanUrls") in ("true", "!0"):
        options["clean_urls"] = True
    base = _literal_string(keys.get("base", ""))
    if base:
        options["base"] = "/" + base.strip("/") + "/" if base.strip("/") else "/"
    root = _project_root(config)
    src_dir = (root / (_literal_string(keys.get("srcDir", "")) or ".")).resolve()
    options["src_dir"] = str(src_dir)
    content = content_dir.resolve()
    prefix = offset = ""
    if content != src_dir and content.is_relative_to(src_dir):
        offset = content.relative_to(src_dir).as_posix()
    if src_dir != content and src_dir.is_relative_to(content):
        prefix = src_dir.relative_to(content).as_posix()
        options["src_prefix"] = prefix
        # Only files under srcDir are pages.
        parts = prefix.split("/")
        options["exclude"] = ["/*"]
        for n in range(len(parts)):
            folder = "/".join(parts[: n + 1])
            options["exclude"].append(f"!/{folder}/")
            if n + 1 < len(parts):
                options["exclude"].append(f"/{folder}/*")
    src_exclude = keys.get("srcExclude", "")
    if src_exclude.startswith("["):
        for glob in _strings(src_exclude):
            pattern = _exclude_pattern(glob, prefix, offset)
            if pattern:
                options["exclude"].append(pattern)
    rewrites = keys.get("rewrites", "")
    if rewrites.startswith("{"):
        _, _, depth = _masked(rewrites)
        pairs = re.finditer(
            r"""(?:'([^'\n]*)'|"([^"\n]*)"|([\w./-]+))\s*:\s*(?:'([^'\n]*)'|"([^"\n]*)")""",
            rewrites,
        )
        for match in pairs:
            if depth[match.start()] != 1:
                continue
            source = next(g for g in match.groups()[:3] if g is not None)
            target = next(g for g in match.groups()[3:] if g is not None)
            options["rewrites"].append([source, target])
    return options


# --- Anchors ------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\u0000-\u001f]")
_SPECIAL = re.compile(r"[\s~`!@#$%^&*()\-_+=\[\]{}|\\;:\"'“”‘’<>,.?/]+")
_COMBINING = re.compile(r"[\u0300-\u036f]")
_DASHES = re.compile(r"-{2,}")
_EDGE_DASHES = re.compile(r"^-+|-+$")
_LEADING_DIGIT = re.compile(r"^(\d)")


def slugify(text: str) -> str:
    """``@mdit-vue/shared``'s ``slugify`` (VitePress' default), before de-duplication."""
    value = unicodedata.normalize("NFKD", text)
    value = _COMBINING.sub("", value)
    value = _CONTROL.sub("", value)
    value = _SPECIAL.sub("-", value)
    value = _DASHES.sub("-", value)
    value = _EDGE_DASHES.sub("", value)
    value = _LEADING_DIGIT.sub(r"_\1", value)
    return value.lower()


class VitePressSlugger(AnchorSlugger):
    """markdown-it-anchor's ``uniqueSlug``: a repeat gets ``-1``, ``-2`` ... (the first
    free one)."""

    def slug(self, heading: str) -> str:
        return self.unique(slugify(heading))

    def unique(self, base: str) -> str:
        candidate, index = base, 1
        while candidate in self._seen:
            candidate = f"{base}-{index}"
            index += 1
        self._seen[candidate] = 0
        return candidate


def _heading_text(children: list[Token]) -> str:
    """The text VitePress slugs: every child's content but inline HTML's, entities and
    an escaped ``&`` as written (its ``restoreEntities``)."""
    parts = []
    for child in children:
        if child.type == "html_inline":
            continue
        if child.type == "text_special" and child.info == "entity":
            parts.append(child.markup)
        elif child.type == "text_special" and child.info == "escape" and child.content == "&":
            parts.append("&amp;")
        else:
            parts.append(child.content)
    return "".join(parts)


_BADGE = re.compile(r"<Badge\b(?P<attrs>[^>]*?)/?>", re.I)
_TEXT_ATTR = re.compile(r"""(?<![:\w-])text\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _badge_text(html: str) -> str | None:
    match = _BADGE.fullmatch(html.strip())
    if match is None:
        return None
    text = _TEXT_ATTR.search(match.group("attrs"))
    return (text.group(1) if text.group(1) is not None else text.group(2)) if text else ""


def _badges_to_text(children: list[Token]) -> None:
    """``<Badge text="x" />`` in running text shows ``x``."""
    for child in children:
        if child.type == "html_inline":
            text = _badge_text(child.content)
            if text is not None:
                child.type, child.tag, child.content = "text", "", f" {text} " if text else ""


def anchors(state: StateCore) -> None:
    """Core rule (before ``text_join``): every heading's id as VitePress sets it, in page
    order; then Badges become their text."""
    slugger = VitePressSlugger()
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type != "heading_open" or i + 1 >= len(tokens):
            continue
        explicit = token.attrGet("id")
        if explicit:
            slugger.unique(str(explicit))
            continue
        token.attrSet("id", slugger.slug(_heading_text(tokens[i + 1].children or [])))
    for token in tokens:
        if token.type == "inline" and token.children:
            _badges_to_text(token.children)


# --- Page URLs ----------------------------------------------------------------------------


def _rewrite_pattern(source: str) -> re.Pattern[str]:
    """A ``rewrites`` key (path-to-regexp: ``:name`` a segment, ``(.*)`` anything)."""
    out, index, pos = [], 0, 0
    for match in re.finditer(r":(\w+)|\((\.\*|[^)]*)\)", source):
        out.append(re.escape(source[pos : match.start()]))
        if match.group(1):
            out.append(f"(?P<{match.group(1)}>[^/]+?)")
        else:
            out.append(f"(?P<_{index}>{match.group(2)})")
            index += 1
        pos = match.end()
    out.append(re.escape(source[pos:]))
    return re.compile("".join(out))


def _substitute(target: str, groups: Mapping[str, str]) -> str:
    """A ``rewrites`` value with its ``:name`` parameters filled in."""
    return re.sub(r":(\w+)", lambda m: groups.get(m.group(1), m.group(0)), target)


def _rewrite(path: str, rewrites: Any) -> str:
    if not isinstance(rewrites, list):
        return path
    for pair in rewrites:
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            continue
        source, target = str(pair[0]), str(pair[1])
        if ":" not in source and "(" not in source:
            if path == source:
                return target
            continue
        match = _rewrite_pattern(source).fullmatch(path)
        if match is None:
            continue
        groups = {k.removeprefix("_"): v for k, v in match.groupdict().items()}
        return _substitute(target, groups)
    return path


def site_path(rel: PurePosixPath, meta: Mapping[str, Any], options: Options) -> str:
    """``guide/features.md`` -> ``guide/features`` (``cleanUrls``) or
    ``guide/features.html``; ``config/index.md`` -> ``config/``; ``rewrites`` first."""
    path = rel.as_posix()
    prefix = options.get("src_prefix")
    if isinstance(prefix, str) and prefix and path.startswith(prefix + "/"):
        path = path[len(prefix) + 1 :]
    path = _rewrite(path, options.get("rewrites"))
    stem = re.sub(r"\.(?:md|mdx|markdown)$", "", path)
    if stem == "index" or stem.endswith("/index"):
        return stem[: -len("index")]
    return stem if options.get("clean_urls") else f"{stem}.html"


# --- Syntax ------------------------------------------------------------------------------

_SNIPPET_TITLE = re.compile(r"\s*\[(.+)\]$")
_SNIPPET_REGION = re.compile(r"#([\w.-]+)$")
_SNIPPET_LINES = re.compile(r"^\d+(?:[,-]\d+)*$")
_INCLUDE = re.compile(r"^\s*<!--\s*@include:\s*(.*?)\s*-->\s*$")
_INCLUDE_RANGE = re.compile(r"\{(\d*),(\d*)\}$")
_INCLUDE_REGION = re.compile(r"#([^\s{]+)$")
_TOC = re.compile(r"^\[\[toc\]\]$", re.I)
_FENCE_TITLE = re.compile(r"\[(.*)\]")
_TWOSLASH = re.compile(r"\btwoslash\b")
_VUE_BLOCK = re.compile(r"^\s*<(?:script|style)(?=[\s>])", re.I)
_INTERPOLATION = re.compile(r"\{\{.*?\}\}", re.S)
_VUE_TEMPLATE = re.compile(r"<template\b[^>]*\s(?:#|v-(?:slot|if|else|for|show))", re.I)


def parse_snippet(raw: str) -> dict[str, str]:
    """``path#region {lines lang attrs} [title]`` as VitePress' ``parseSnippetPath`` reads
    it (the title defaults to the file name)."""
    rest, title = raw.strip(), ""
    if match := _SNIPPET_TITLE.search(rest):
        title, rest = match.group(1), rest[: match.start()].rstrip()
    lang = attrs = ""
    brace = rest.rfind("{")
    if rest.endswith("}") and brace > 0:
        meta = rest[brace + 1 : -1].strip()
        rest = rest[:brace].rstrip()
        words = meta.split()
        if words and _SNIPPET_LINES.match(re.sub(r"\s+", "", meta)):
            words = []
        elif words and _SNIPPET_LINES.match(words[0]):
            words = words[1:]
        if words:
            lang, attrs = words[0], " ".join(words[1:])
    region = ""
    if match := _SNIPPET_REGION.search(rest):
        region, rest = match.group(1), rest[: match.start()]
    path = rest.strip()
    name = re.split(r"[\\/]", path)[-1]
    extension = re.search(r"\.([a-zA-Z0-9]+)$", name)
    return {
        "path": path,
        "region": region,
        "lang": lang or (extension.group(1) if extension else ""),
        "attrs": attrs,
        "title": title or name,
    }


def snippet(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """``<<< path`` on a line of its own: token ``vitepress_snippet`` (resolved by
    :func:`resolve`)."""
    if state.sCount[start] - state.blkIndent >= 4:
        return False
    pos = state.bMarks[start] + state.tShift[start]
    maximum = state.eMarks[start]
    if not state.src.startswith("<<<", pos) or pos + 3 > maximum:
        return False
    if silent:
        return True
    token = state.push("vitepress_snippet", "", 0)
    token.block = True
    token.map = [start, start + 1]
    token.meta = parse_snippet(state.src[pos + 3 : maximum])
    state.line = start + 1
    return True


# Region markers, as VitePress' ``regions.ts`` finds them in any language.
_REGION_MARKERS = (
    (
        re.compile(r"^\s*(?://\s*#?|(?:--|::|@?[rR][eE][mM])\s*#)region\b\s*(.*?)\s*$"),
        re.compile(r"^\s*(?://\s*#?|(?:--|::|@?[rR][eE][mM])\s*#)endregion\b\s*(.*?)\s*$"),
    ),
    (
        re.compile(r"^\s*#\s*(?:#\s*|pragma\s+)?[rR]egion\b\s*(.*?)\s*$"),
        re.compile(r"^\s*#\s*(?:#\s*|pragma\s+)?[eE]nd ?[rR]egion\b\s*(.*?)\s*$"),
    ),
    (
        re.compile(r"^\s*<!--\s*#?region\b\s*(.*?)\s*-->"),
        re.compile(r"^\s*<!--\s*#?endregion\b\s*(.*?)\s*-->"),
    ),
    (
        re.compile(r"^\s*/\*\s*#region\b\s*(.*?)\s*\*/"),
        re.compile(r"^\s*/\*\s*#endregion\b\s*(.*?)\s*\*/"),
    ),
    (
        re.compile(r"^\s*\(\*\s*#region\b\s*(.*?)\s*\*\)"),
        re.compile(r"^\s*\(\*\s*#endregion\b\s*(.*?)\s*\*\)"),
    ),
    (
        re.compile(r'^\s*"/{2,}\s*#region\b\s*(.*?)":\s*"",?\s*$'),
        re.compile(r'^\s*"/{2,}\s*#endregion\b\s*(.*?)":\s*"",?\s*$'),
    ),
)


def _unquote(name: str) -> str:
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] == '"' else name


def find_regions(lines: list[str], name: str) -> list[tuple[int, int, int]]:
    """``(start, end, marker style)`` of every region named ``name`` (outermost ones),
    as VitePress' ``findRegions``: lines ``start`` up to ``end`` (exclusive)."""
    regions: list[tuple[int, int, int]] = []
    opened: list[tuple[str, int, int]] = []  # (name, first line, marker style)
    for number, line in enumerate(lines):
        if "region" not in line.lower():
            continue
        started = False
        for style, (start, _) in enumerate(_REGION_MARKERS):
            if match := start.match(line):
                opened.append((_unquote(match.group(1)), number + 1, style))
                started = True
                break
        if started or not opened:
            continue
        for style, (_, end) in enumerate(_REGION_MARKERS):
            match = end.match(line)
            if match is None:
                continue
            end_name = _unquote(match.group(1))
            index = next(
                (
                    k
                    for k in range(len(opened) - 1, -1, -1)
                    if (opened[k][0] == end_name if end_name else opened[k][2] == style)
                ),
                -1,
            )
            if index < 0:
                continue
            closed = opened[index]
            del opened[index:]
            if closed[0] == name and not any(o[0] == name for o in opened):
                regions.append((closed[1], number, closed[2]))
            break
    return regions


def _strip_markers(lines: list[str], styles: set[int]) -> list[str]:
    return [
        line
        for line in lines
        if "region" not in line.lower()
        or not any(
            _REGION_MARKERS[s][0].match(line) or _REGION_MARKERS[s][1].match(line) for s in styles
        )
    ]


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip(" \t")]
    least = min(indents, default=0)
    return [line[least:] for line in lines] if least else lines


def region_of(text: str, name: str) -> str | None:
    """The named region of a file's text, its markers out and dedented (None: no such
    region)."""
    lines = text.split("\n")
    regions = find_regions(lines, name)
    if not regions:
        return None
    picked = [line for start, end, _ in regions for line in lines[start:end]]
    picked = _strip_markers(picked, {style for _, _, style in regions})
    return "\n".join(_dedent(picked))


def _context(state: StateCore) -> IncludeContext | None:
    context = state.env.get("includes")
    return context if isinstance(context, IncludeContext) else None


def _src_target(path: str, state: StateCore, context: IncludeContext) -> str:
    """A snippet or include path as VitePress resolves it: ``@/x`` from ``srcDir``, else
    beside the page."""
    if path.startswith("@"):
        options = state.env.get("site_options") or {}
        src_dir = options.get("src_dir") if isinstance(options, Mapping) else None
        root = Path(src_dir) if isinstance(src_dir, str) else context.docs_root
        rest = path[2:] if len(path) > 1 and path[1] in "/\\" else path[1:]
        return str(root / rest)
    return path


def _fence(content: str, info: str, label: str, like: Token) -> Token:
    token = Token("fence", "code", 0)
    token.info = info
    token.content = content if content.endswith("\n") or not content else content + "\n"
    token.markup = "```"
    token.block = True
    token.level = like.level
    token.map = like.map
    token.meta = {"label": label} if label else {}
    return token


def _missing(token: Token, context: IncludeContext, message: str) -> None:
    context.warn(message, token)
    token.type = "include_missing"
    token.content = ""


def _snippet_token(token: Token, state: StateCore, context: IncludeContext) -> Token:
    """The fence a ``<<<`` import becomes (or the token, left out with a warning)."""
    meta = token.meta
    target = _src_target(meta["path"], state, context)
    found = context.read(context.page, target)
    if isinstance(found, str):
        _missing(token, context, f"code snippet {found.removeprefix('include ')}")
        return token
    text = found[1].replace("\r", "")
    if meta["region"]:
        region = region_of(text, meta["region"])
        if region is None:
            _missing(
                token,
                context,
                f"code snippet '{meta['path']}' has no region '{meta['region']}'; left out",
            )
            return token
        text = region
    info = " ".join(p for p in (meta["lang"], meta["attrs"]) if p)
    return _fence(text, info, meta["title"], token)


def _include_tokens(
    token: Token, target: str, state: StateCore, context: IncludeContext
) -> list[Token] | None:
    """``<!-- @include: path#region{start,end} -->``: the file's tokens (None: left out
    with a warning)."""
    depth = int(token.meta.get("vitepress_depth", 0)) if token.meta else 0
    if depth >= MAX_DEPTH:
        _missing(token, context, "includes nest too deep")
        return None
    raw = target
    line_range = _INCLUDE_RANGE.search(raw)
    if line_range:
        raw = raw[: line_range.start()]
    region = _INCLUDE_REGION.search(raw)
    if region:
        raw = raw[: region.start()]
    base = Path(token.meta.get("vitepress_base") or context.page) if token.meta else context.page
    found = context.read(base, _src_target(raw, state, context))
    if isinstance(found, str):
        _missing(token, context, found)
        return None
    path, text = found
    text = text.replace("\r", "")
    if path.suffix == ".md" and (region or not line_range):
        text = re.sub(r"\A---\n.*?\n---[ \t]*(?:\n|\Z)", "", text, count=1, flags=re.S)
    if region:
        cut = region_of(text, region.group(1))
        if cut is None:
            _missing(token, context, f"include '{target}' has no region '{region.group(1)}'")
            return None
        text = cut
    if line_range:
        lines = text.split("\n")
        first = int(line_range.group(1) or 1)
        last = int(line_range.group(2) or len(lines))
        text = "\n".join(lines[first - 1 : last])
    spliced: list[Token] = []
    state.md.block.parse(text, state.md, state.env, spliced)
    for inner in spliced:
        inner.level += token.level
        inner.map = token.map
        if inner.type == "html_block" and _INCLUDE.match(inner.content):
            inner.meta = {"vitepress_base": str(path), "vitepress_depth": depth + 1}
    return spliced


def twoslash_visible(code: str) -> str:
    """What twoslash shows of a code block: cuts applied, flag and query lines out."""
    lines = code.split("\n")
    drop = [False] * len(lines)
    before = [i for i, line in enumerate(lines) if _CUT_BEFORE.match(line)]
    if before:
        for i in range(before[-1] + 1):
            drop[i] = True
    after = next((i for i, line in enumerate(lines) if _CUT_AFTER.match(line)), None)
    if after is not None:
        for i in range(after, len(lines)):
            drop[i] = True
    starts = [i for i, line in enumerate(lines) if _CUT_START.match(line)]
    ends = [i for i, line in enumerate(lines) if _CUT_END.match(line)]
    for first, last in zip(starts, ends, strict=False):
        for i in range(first, last + 1):
            drop[i] = True
    for i, line in enumerate(lines):
        flag = _FLAG.match(line)
        if (flag and flag.group(1) != "filename") or _QUERY.match(line):
            drop[i] = True
    kept = [line for line, gone in zip(lines, drop, strict=True) if not gone]
    return "\n".join(kept)


_CUT_BEFORE = re.compile(r"^[\t\v\f ]*//\s?---cut(?:-before)?---\s*$")
_CUT_AFTER = re.compile(r"^[\t\v\f ]*//\s?---cut-after---\s*$")
_CUT_START = re.compile(r"^[\t\v\f ]*//\s?---cut-start---\s*$")
_CUT_END = re.compile(r"^[\t\v\f ]*//\s?---cut-end---\s*$")
_FLAG = re.compile(r"^[\t ]*//\s?@(\w+)(?::\s?.+)?\s*$")
_QUERY = re.compile(r"^\s*//\s*\^(?:\?|\||\^+)(?: .*)?$")


def fence_language(info: str) -> str:
    """The language of a fence's info, as VitePress' ``extractLang`` reads it (its
    ``[title]`` out first)."""
    info = _FENCE_TITLE.sub("", info).strip()
    info = re.sub(r"=(\d*)", "", info, count=1)
    info = re.sub(r":(no-)?line-numbers({| |$|=\d*).*", "", info, count=1)
    info = re.sub(r"(-vue|{| ).*$", "", info, count=1)
    return "template" if info == "vue-html" else "" if info == "ansi" else info


def _fence_token(token: Token) -> None:
    """A fence as VitePress shows it: the language alone in its info, its ``[label]`` in
    ``meta["label"]``, twoslash notations gone."""
    if token.meta.get("vitepress_done"):
        return
    info = token.info
    title = _FENCE_TITLE.search(info)
    rest = _FENCE_TITLE.sub("", info)
    if _TWOSLASH.search(rest):
        token.content = twoslash_visible(token.content)
    label = title.group(1).strip() if title else token.meta.get("label", "")
    token.info = fence_language(info)
    token.meta = {**token.meta, "vitepress_done": True}
    if label:
        token.meta["label"] = label


def _html_block(token: Token) -> bool:
    """Vue in an HTML block: False when nothing of it shows (``<script setup>``,
    ``<style>``); else ``{{ }}`` out, slot ``<template>``s shown, Badges as text."""
    content = token.content
    if _VUE_BLOCK.match(content):
        return False
    content = _INTERPOLATION.sub("", content)
    if _VUE_TEMPLATE.search(content):
        content = re.sub(r"<(/?)template\b", r"<\1div", content, flags=re.I)
    content = _BADGE.sub(lambda m: _badge_text(m.group(0)) or "", content)
    token.content = content
    return True


def resolve(state: StateCore) -> None:
    """Core rule (after includes): snippets and ``@include``s read, fences cleaned, Vue
    blocks reduced to what shows, ``[[toc]]`` out."""
    context = _context(state)
    tokens = state.tokens
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        kind = token.type
        if kind == "vitepress_snippet":
            if context is None:
                i += 1
                continue
            token = _snippet_token(token, state, context)
            if token.type == "fence":
                _fence_token(token)
        elif kind == "fence":
            _fence_token(token)
        elif kind == "html_block" and (match := _INCLUDE.match(token.content)):
            if context is not None:
                spliced = _include_tokens(token, match.group(1), state, context)
                if spliced is not None:
                    tokens[i : i + 1] = spliced
                    continue  # the included tokens are visited next
            else:
                token.type = "include_missing"
        elif kind == "html_block":
            if not _html_block(token):
                i += 1
                continue
        elif (
            kind == "paragraph_open"
            and i + 2 < len(tokens)
            and _TOC.match(tokens[i + 1].content.strip())
        ):
            i += 3
            continue
        out.append(token)
        i += 1
    state.tokens = out


def plugin(md: MarkdownIt) -> None:
    """VitePress' own syntax (see the module docstring)."""
    md.block.ruler.before("fence", "vitepress_snippet", snippet)
    md.core.ruler.after("includes", "vitepress", resolve)
    md.core.ruler.before("text_join", "vitepress_anchors", anchors)


GENERATOR = Generator(
    name="vitepress",
    config_names=CONFIG_NAMES,
    signals=SIGNALS,
    read_options=read_options,
    slugger=VitePressSlugger,
    site_path=site_path,
    plugin=plugin,
    exclude=("dist/",),
)
