"""MyST Markdown (mystmd, Jupyter Book): its directives, roles, targets, ids and URLs.

- Detected by ``myst.yml`` (mystmd) or ``_config.yml`` beside a ``_toc.yml`` (Jupyter Book
  1), else by its syntax (```` ```{note} ````, ``:::{tip}``, ``(label)=``, ``{ref}`x```).
- Directives in backtick and colon fences (mdit-py-plugins' ``colon_fence``), with their
  ``:option: value`` lines or YAML ``---`` block, become tokens the pipeline reads
  (:mod:`ingest.generators.myst_syntax`): admonitions, cards, tabs and dropdowns keep their
  title, code keeps its caption, figures and tables their caption, ``list-table`` becomes a
  table, ``include`` is read in, demos (``{myst}``) index what they render, unknown
  directives their body; table-of-contents and index directives disappear.
- Roles (``myst_role``): ``{ref}``/``{numref}``/``{doc}`` are links the link checker
  follows, ``{code}``/``{math}`` code spans, the others their text; ``$math$`` a code span.
- Targets (``myst_blocks``): ``(label)=`` gives the next heading its id, or is an id inside
  the section. A label is global in MyST: ``[](#label)`` and ``{ref}`label``` on one page
  resolve to the page holding the label (a scan of the tree in :func:`read_options`).
- Heading ids: mystmd's ``createHtmlId`` of the heading's text (or of its label); repeats
  get ``-1``, ``-2``.
- URLs: flat, the file name slugified (``createSlug``: number prefixes dropped), the
  project's first page (``project.toc``'s first file, else ``index.md``) at the root;
  with a table of contents only the files it lists are published.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.myst_blocks import myst_block_plugin
from mdit_py_plugins.myst_role import myst_role_plugin

from ingest.anchors import AnchorSlugger, Slugger
from ingest.generators import Generator, Options
from ingest.generators.myst_syntax import expand_directives, resolve_inline
from ingest.generators.myst_text import create_slug, html_id, normalize_label

_SIGNALS = re.compile(
    r"^(?:`{3,}|:{3,})\{[A-Za-z][\w:.-]*\}|^\([\w:.-]+\)=\s*$"
    r"|\{(?:ref|doc|numref|term|eq)\}`",
    re.M,
)
_PAGE_SUFFIXES = (".md", ".ipynb", ".tex", ".myst.json")
_INDEX_NAMES = ("index", "readme", "main")
_FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,}|:{3,})\s*(?P<info>.*?)\s*$")
_TARGET = re.compile(r"^\s*\((?P<label>[^()\s][^()]*)\)=\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>.*?)(?:\s+#+)?\s*$")
_LABEL_OPTION = re.compile(r"^\s*:(?:label|name):\s*(?P<label>\S+)\s*$")
_ANY_OPTION = re.compile(r"^\s*:[\w-]+:")
_TEX_LABEL = re.compile(r"\\label\{([^{}]+)\}")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*$", re.S | re.M)
_CODE_DIRECTIVES = frozenset(
    {"code", "code-block", "sourcecode", "code-cell", "literalinclude", "mermaid", "math"}
)
_DIRECTIVE_NAME = re.compile(r"^\{(?P<name>[^}\s]+)")
_ROLE_TEXT = re.compile(r"\{[\w:+-]+\}`([^`]*)`")
_LINK_TEXT = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*{1,3}|`+)")
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>\s*$", re.S)


class MystSlugger(AnchorSlugger):
    """mystmd's heading ids: ``createHtmlId`` of the heading's text; repeats numbered
    ``-1``, ``-2`` (``htmlIdsTransform``)."""

    def base(self, heading: str) -> str:
        return html_id(normalize_label(heading))


def _slugger() -> Slugger:
    return MystSlugger()


def _claims(config: Path) -> bool:
    """``myst.yml`` is always mystmd's; ``_config.yml`` only beside a ``_toc.yml``."""
    if config.name == "_config.yml":
        return (config.parent / "_toc.yml").is_file()
    return True


def _yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _resolve_file(folder: Path, name: str, base: Path) -> str | None:
    """A toc entry's file, relative to ``base`` (Jupyter Book leaves out the suffix)."""
    candidates = [name] if Path(name).suffix else [f"{name}{s}" for s in _PAGE_SUFFIXES]
    for candidate in candidates:
        path = folder / candidate
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return None


def _toc_files(entries: object, folder: Path, base: Path) -> Iterator[str]:
    """Files of a ``project.toc`` / ``_toc.yml`` tree, in order."""
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list):
        return
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name = entry.get("file") or entry.get("root")
        if isinstance(name, str):
            found = _resolve_file(folder, name, base)
            if found is not None:
                yield found
        for key in ("children", "chapters", "sections", "parts", "entries"):
            yield from _toc_files(entry.get(key), folder, base)


def _toc(config: Path | None, base: Path) -> list[str]:
    """The published files in table-of-contents order (empty: no table of contents)."""
    if config is None:
        return []
    if config.name == "_config.yml":
        toc = _yaml(config.parent / "_toc.yml")
        root = toc.get("root")
        files = list(_toc_files([{"root": root}], config.parent, base)) if root else []
        rest = toc.get("chapters") or toc.get("parts") or toc.get("sections")
        return files + list(_toc_files(rest, config.parent, base))
    project = _yaml(config).get("project")
    if not isinstance(project, dict):
        return []
    return list(_toc_files(project.get("toc"), config.parent, base))


def _tree_files(content_dir: Path) -> list[str]:
    """Page files by mystmd's walk without a table of contents: each folder's files
    (sorted), then its folders."""
    out: list[str] = []

    def walk(folder: Path) -> None:
        try:
            entries = sorted(folder.iterdir(), key=lambda p: p.name.lower())
        except OSError:
            return
        visible = [p for p in entries if not p.name.startswith((".", "_"))]
        out.extend(
            p.relative_to(content_dir).as_posix()
            for p in visible
            if p.is_file() and p.name.endswith(_PAGE_SUFFIXES)
        )
        for sub in visible:
            if sub.is_dir() and sub.name != "node_modules":
                walk(sub)

    walk(content_dir)
    return out


def _index_of(files: list[str]) -> str | None:
    top = [f for f in files if "/" not in f]
    for name in _INDEX_NAMES:
        for suffix in _PAGE_SUFFIXES:
            for f in top:
                if f.lower() == f"{name}{suffix}":
                    return f
    markdown = [f for f in top if f.endswith(".md")]
    candidates = markdown or top or files
    return candidates[0] if candidates else None


def _slugs(files: list[str], index: str | None) -> dict[str, str]:
    """Each page's slug (``fileInfo``): the file name slugified, repeats ``-1``, ``-2``."""
    taken: dict[str, int] = {}
    out: dict[str, str] = {}
    for rel in ([index] if index else []) + [f for f in files if f != index]:
        slug = create_slug(PurePosixPath(rel).name.split(".")[0])
        if taken.get(slug):
            taken[slug] += 1
            out[rel] = f"{slug}-{taken[slug] - 1}"
        else:
            taken[slug] = 1
            out[rel] = slug
    return out


def _plain(heading: str) -> str:
    """A heading's text as the page shows it (roles, links and emphasis markers gone)."""
    text = _ROLE_TEXT.sub(lambda m: _EXPLICIT.sub(r"\g<text>", m.group(1)), heading)
    text = _LINK_TEXT.sub(r"\1", text)
    return " ".join(_EMPHASIS.sub("", text).split())


@dataclass
class _Fence:
    char: str
    size: int
    code: bool
    info: str = ""

    @property
    def math(self) -> bool:
        return self.info.startswith(("{math}", "math"))


def _fence_event(line: str, stack: list[_Fence]) -> bool:
    """Open or close a fence on ``line``; True when the line was a fence line."""
    match = _FENCE.match(line)
    if match is None:
        return False
    fence, info = match.group("fence"), match.group("info")
    top = stack[-1] if stack else None
    if top is not None and not info and fence[0] == top.char and len(fence) >= top.size:
        stack.pop()
        return True
    if top is not None and top.code:
        return False
    name = _DIRECTIVE_NAME.match(info)
    code = name is None or name.group("name") in _CODE_DIRECTIVES
    if fence[0] == ":" and name is None:
        return False
    stack.append(_Fence(fence[0], len(fence), code, info))
    return True


def _front_matter_label(text: str) -> tuple[str, str]:
    """The page's own ``label:`` and ``title:`` from its front matter."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return "", ""
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return "", ""
    if not isinstance(data, dict) or not isinstance(data.get("label"), str):
        return "", ""
    title = data.get("title")
    return normalize_label(data["label"]), title if isinstance(title, str) else ""


def _label(label: str, title: str = "") -> tuple[str, str, str]:
    identifier = normalize_label(label)
    return identifier, html_id(identifier), title


def _page_labels(text: str) -> Iterator[tuple[str, str, str]]:
    """``(identifier, html id, title)`` of a page's targets and headings, in order (the
    page's own label has no html id)."""
    page_label, page_title = _front_matter_label(text)
    if page_label:
        yield page_label, "", page_title
    stack: list[_Fence] = []
    pending: list[str] = []
    options = False  # right after a directive's opening line: its options
    for line in text.splitlines():
        depth = len(stack)
        if _fence_event(line, stack):
            opened = len(stack) > depth
            options = opened and _DIRECTIVE_NAME.match(stack[-1].info) is not None
            continue
        option = _LABEL_OPTION.match(line) if options else None
        options = options and _ANY_OPTION.match(line) is not None
        if option is not None:
            yield _label(option.group("label"))
            continue
        in_code = bool(stack) and stack[-1].code and not stack[-1].math
        for label in () if in_code else _TEX_LABEL.findall(line):
            yield _label(label)
        if stack and stack[-1].code:
            continue
        if target := _TARGET.match(line):
            pending.append(target.group("label"))
            continue
        if not line.strip():
            continue
        title = ""
        if heading := _HEADING.match(line):
            title = _plain(heading.group("text"))
            implicit = html_id(normalize_label(title))
            if not pending and implicit:
                yield implicit, implicit, title
        for label in pending:
            yield _label(label, title)
        pending = []


def _labels(content_dir: Path, files: Iterable[str]) -> dict[str, list[str]]:
    """Every label of the project: identifier -> [file, html id, title] (first wins)."""
    out: dict[str, list[str]] = {}
    for rel in files:
        if not rel.endswith(".md"):
            continue
        try:
            text = (content_dir / rel).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue
        for identifier, anchor, title in _page_labels(text):
            if identifier:
                out.setdefault(identifier, [rel, anchor, title])
    return out


def read_options(config: Path | None, content_dir: Path) -> dict[str, Any]:
    """Pages (table of contents or the tree), the root page, slugs, unpublished files and
    the project's labels."""
    toc = _toc(config, content_dir)
    files = toc or _tree_files(content_dir)
    index = toc[0] if toc else _index_of(files)
    exclude: list[str] = []
    if toc:
        exclude = ["*.md", "*.mdx", "*.markdown", *(f"!/{f}" for f in toc)]
    if config is not None and config.name == "myst.yml":
        project = _yaml(config).get("project")
        extra = project.get("exclude") if isinstance(project, dict) else None
        if isinstance(extra, str):
            extra = [extra]
        if isinstance(extra, list):
            exclude += [str(e) for e in extra]
    return {
        "index": index,
        "slugs": _slugs(files, index),
        "exclude": exclude,
        "labels": _labels(content_dir, files),
    }


def site_path(rel: PurePosixPath, meta: Mapping[str, Any], options: Options) -> str:
    """The page's flat slug; the project's root page is the site's root."""
    if str(rel) == options.get("index"):
        return ""
    slugs = options.get("slugs")
    if isinstance(slugs, Mapping) and str(rel) in slugs:
        return str(slugs[str(rel)])
    return create_slug(rel.name.split(".")[0])


def plugin(md: MarkdownIt) -> None:
    """Colon fences, targets/comments/block breaks, roles and dollar math, then the
    rules turning directives, roles and label links into the pipeline's tokens."""
    md.use(colon_fence_plugin)
    md.use(myst_block_plugin)
    md.use(myst_role_plugin)
    md.use(amsmath_plugin)
    md.use(dollarmath_plugin, allow_space=True, allow_digits=True, double_inline=True)
    md.core.ruler.after("block", "myst_directives", expand_directives)
    md.core.ruler.after("inline", "myst_inline", resolve_inline)


GENERATOR = Generator(
    name="myst",
    config_names=("myst.yml", "_config.yml"),
    claims=_claims,
    signals=_SIGNALS,
    read_options=read_options,
    slugger=_slugger,
    site_path=site_path,
    plugin=plugin,
)
