"""Jekyll: ``_config.yml`` sites, Liquid templates, kramdown Markdown.

- Detection: a ``_config.yml`` that is Jekyll's (not Jupyter Book's, which has a
  ``_toc.yml`` beside it or ``sphinx``/``execute`` keys): Jekyll's folders
  (``_layouts``, ``_includes``, ``_posts`` ...), a ``Gemfile`` beside it, or Jekyll keys
  (``collections``, ``permalink``, ``kramdown``, ``markdown`` ...). Without a config, the
  syntax: Liquid tags, ``{{ site.x }}``, kramdown's ``{: .class}`` lines.
- Liquid is rendered first, as Jekyll does (``ingest.generators.liquid``).
- kramdown: block attribute lists on their own line (``{: .note .info}``,
  ``{: #id}``) give their id to the block right above (no blank line between) or else to
  the block below, and leave the text; ``{::comment}``, ``{::options /}`` and attribute
  list definitions are hidden, ``{::nomarkdown}`` is HTML; ``*[HTML]: ...``
  abbreviation definitions are hidden; ``{:target="_blank"}`` after a span is dropped.
- Anchors: kramdown-parser-gfm's ids (Jekyll's default ``input: GFM``): the heading's text
  lower-cased, every character that is not a letter, mark, digit, ``_``, ``-``, space or
  tab dropped, spaces and tabs hyphens, repeats ``-1``, ``-2`` (counted per id, explicit
  ids not taken into account), ``auto_id_prefix`` first. With ``input: kramdown``,
  kramdown's own ids (ASCII letters, digits, spaces and hyphens; leading non-letters
  dropped; ``section`` when empty).
- URLs: front-matter ``permalink`` wins; a collection's document (``_docs/x.md``) takes
  ``collections.<name>.permalink`` (default ``/:collection/:path`` with the site
  ``permalink`` style's ending), a page ``/:path/:basename`` likewise, ``index`` pages
  their folder; ``baseurl`` in front. KB_SITE_URL is the site's host root (``url``).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from ingest.anchors import AnchorSlugger, Slugger
from ingest.generators import Generator, Options, PageContext
from ingest.generators.liquid import read_yaml, render_page, slugify

_JEKYLL_DIRS = ("_layouts", "_includes", "_posts", "_data", "_sass", "_plugins", "_drafts")
_JEKYLL_KEYS = frozenset(
    {
        "collections",
        "permalink",
        "kramdown",
        "markdown",
        "baseurl",
        "plugins",
        "gems",
        "theme",
        "remote_theme",
        "defaults",
        "highlighter",
        "jekyll-archives",
        "paginate",
    }
)
_JUPYTER_BOOK_KEYS = frozenset({"sphinx", "execute", "launch_buttons", "bibtex_bibfiles"})
_PERMALINK_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_SPECIAL = ("_*", "\\#*", "~*", "*~")  # gitignore syntax: ``#`` escaped
_PLACEHOLDER = re.compile(r":([a-z_]+)")
_POST_NAME = re.compile(r"^(\d{2,4})-(\d{1,2})-(\d{1,2})-(.*)$")
_PAGE_SUFFIXES = (".md", ".markdown", ".mkd", ".mkdn", ".mdown", ".html", ".htm")
_TYPOGRAPHIC = re.compile(r"(?<=\s)-{2,3}(?=\s)|\.\.\.")

SIGNALS = re.compile(
    r"^\{%-? (?:raw|highlight|include|assign|capture|comment)\b|\{%-? (?:link|post_url) "
    r"|\{\{ ?site\.\w|^\{: ?[.#]\w",
    re.M,
)


# -- detection and settings ---------------------------------------------------------------


def claims(config: Path) -> bool:
    """Whether ``config`` (a ``_config.yml``) is a Jekyll site's."""
    folder = config.parent
    if (folder / "_toc.yml").is_file() or (folder / "_toc.yaml").is_file():
        return False
    try:
        data = read_yaml(config.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError):
        return False
    if _JUPYTER_BOOK_KEYS & data.keys():
        return False
    if any((folder / name).is_dir() for name in _JEKYLL_DIRS) or (folder / "Gemfile").is_file():
        return True
    return bool(_JEKYLL_KEYS & data.keys())


def read_options(config: Path | None, content_dir: Path) -> dict[str, Any]:
    """The site settings URLs and Liquid need: the site source folder, the content
    folder's place in it, ``baseurl``, ``url``, the permalink style, the collections and
    the kramdown settings; ``site`` is the whole config for ``{{ site.x }}``."""
    data: dict[str, Any] = {}
    if config is not None:
        try:
            data = read_yaml(config.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError):
            data = {}
        source = config.parent.resolve()
    else:
        folder = content_dir.resolve()
        source = folder.parent if folder.name.startswith("_") else folder
    content = content_dir.resolve()
    prefix = content.relative_to(source).as_posix() if content.is_relative_to(source) else "."
    collections = data.get("collections")
    if isinstance(collections, list):
        collections = {str(name): {} for name in collections}
    if not isinstance(collections, dict):
        collections = {}
    kramdown = data.get("kramdown")
    return {
        "source": str(source),
        "prefix": "" if prefix == "." else prefix,
        "baseurl": str(data.get("baseurl") or ""),
        "url": str(data.get("url") or ""),
        "permalink": str(data.get("permalink") or "date"),
        "collections": {
            str(k): {"permalink": v.get("permalink")} if isinstance(v, dict) else {}
            for k, v in collections.items()
        },
        "kramdown": kramdown if isinstance(kramdown, dict) else {},
        "markdown": str(data.get("markdown") or "kramdown"),
        "site": data,
        "exclude": _excluded(data, prefix, {"posts": {}, **collections}),
    }


def _excluded(data: Mapping[str, Any], prefix: str, collections: Mapping[str, Any]) -> list[str]:
    """What Jekyll never publishes, as patterns relative to the content folder: names
    starting with ``_``, ``#``, ``~`` or ending with ``~`` (but the folders of
    collections that output pages, when the content folder is the site source), and the
    config's ``exclude`` entries under the content folder."""
    patterns = list(_SPECIAL)
    if prefix == ".":
        patterns += [
            f"!/_{name}/"
            for name, settings in collections.items()
            if name == "posts" or (isinstance(settings, dict) and settings.get("output"))
        ]
    entries = data.get("exclude")
    if not isinstance(entries, list):
        return patterns
    base = "" if prefix == "." else prefix.rstrip("/") + "/"
    for entry in entries:
        text = str(entry).lstrip("/")
        if base and not text.startswith(base):
            continue
        patterns.append("/" + text[len(base) :])
    return patterns


# -- URLs -----------------------------------------------------------------------------------


def _suffixed(template: str, style: str) -> str:
    """Jekyll's ``Utils.add_permalink_suffix``."""
    if style == "pretty" or (style not in _PERMALINK_STYLES and style.endswith("/")):
        return template + "/"
    if style in _PERMALINK_STYLES or style.endswith(":output_ext"):
        return template + ":output_ext"
    return template


def _date_of(meta: Mapping[str, Any], stem: str) -> dt.datetime | None:
    value = meta.get("date")
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    named = _POST_NAME.match(stem)
    if named:
        try:
            return dt.datetime(int(named.group(1)), int(named.group(2)), int(named.group(3)))
        except ValueError:
            return None
    return None


def _placeholders(
    path: PurePosixPath, meta: Mapping[str, Any], collection: str | None
) -> dict[str, str]:
    stem = path.stem
    named = _POST_NAME.match(stem)
    bare = named.group(4) if named and collection == "posts" else stem
    slug = meta.get("slug")
    title = str(slug) if isinstance(slug, str | int) else bare
    categories = meta.get("categories") or meta.get("category") or []
    if isinstance(categories, str):
        categories = categories.split()
    values = {
        "collection": collection or "",
        "path": str(path.with_suffix("")) if collection else str(path.parent).strip("."),
        "basename": stem,
        "name": slugify(stem),
        "title": _pretty_slug(title),
        "slug": slugify(title),
        "output_ext": ".html",
        "categories": "/".join(str(c).lower() for c in categories if c),
    }
    date = _date_of(meta, stem)
    if date is not None:
        values.update(
            year=f"{date.year:04d}",
            month=f"{date.month:02d}",
            i_month=str(date.month),
            day=f"{date.day:02d}",
            i_day=str(date.day),
            short_year=f"{date.year % 100:02d}",
            hour=f"{date.hour:02d}",
            minute=f"{date.minute:02d}",
            second=f"{date.second:02d}",
            y_day=f"{date.timetuple().tm_yday:03d}",
        )
    return values


def _pretty_slug(text: str) -> str:
    """Jekyll's ``slugify`` in ``pretty`` mode, case kept (for ``:title``)."""
    return re.sub(r"(?:[^\w.~!$&'()+,;=@]|_)+", "-", text).strip("-")


def _expand(template: str, values: Mapping[str, str]) -> str:
    """Jekyll's ``URL`` from a template: placeholders filled, ``//`` squeezed."""
    filled = _PLACEHOLDER.sub(lambda m: values.get(m.group(1).rstrip("_"), ""), template)
    url = "/" + filled.replace("..", "/").replace("./", "")
    return re.sub(r"/{2,}", "/", url)


def url_of(source_rel: str, meta: Mapping[str, Any], options: Options) -> str:
    """The URL (from the host root, ``baseurl`` not included) Jekyll gives a file of the
    site source, by its front matter and the config's permalink rules."""
    path = PurePosixPath(source_rel)
    first = path.parts[0] if path.parts else ""
    collections: Mapping[str, Any] = options.get("collections") or {}
    collection = first[1:] if first.startswith("_") and len(path.parts) > 1 else None
    style = str(options.get("permalink") or "date")
    permalink = meta.get("permalink")
    inner = PurePosixPath(*path.parts[1:]) if collection else path
    values = _placeholders(inner, meta, collection)
    if isinstance(permalink, str) and permalink.strip():
        return _expand(permalink.strip(), values)
    if collection is not None:
        configured = (collections.get(collection) or {}).get("permalink")
        if isinstance(configured, str) and configured:
            template = _PERMALINK_STYLES.get(configured, configured)
        elif collection == "posts":
            template = _PERMALINK_STYLES.get(style, style)
        else:
            template = _suffixed("/:collection/:path", style)
        return _expand(template, values)
    if path.suffix.lower() not in _PAGE_SUFFIXES:
        return _expand("/:path/:basename:output_ext", values).replace(".html", path.suffix)
    if path.stem == "index":
        return _expand("/:path/", values)
    return _expand(_suffixed("/:path/:basename", style), values)


def site_path(rel: PurePosixPath, meta: Mapping[str, Any], options: Options) -> str:
    """The page's path under the host root: its URL with ``baseurl`` in front."""
    prefix = str(options.get("prefix") or "")
    source_rel = f"{prefix}/{rel}" if prefix else str(rel)
    url = url_of(source_rel, meta, options)
    base = str(options.get("baseurl") or "").strip("/")
    return f"{base}{url}" if base else url.lstrip("/")


# -- anchors --------------------------------------------------------------------------------


def gfm_id(heading: str) -> str:
    """kramdown-parser-gfm's header id before numbering (typographic ``--``/``...``,
    which kramdown turns into dashes and ellipses, dropped like them)."""
    text = _TYPOGRAPHIC.sub("", heading).lower()
    kept = "".join(c for c in text if c in "- \t" or _is_word(c))
    return kept.replace(" ", "-").replace("\t", "-")


def _is_word(char: str) -> bool:
    """Ruby's ``\\p{Word}``: a letter, mark, decimal digit or connector (``_``)."""
    category = unicodedata.category(char)
    return category[0] in "LM" or category in ("Nd", "Pc")


def kramdown_id(heading: str) -> str:
    """kramdown's ``basic_generate_id``: leading non-letters dropped, then everything but
    ASCII letters, digits, spaces and hyphens; spaces hyphens; lower-cased."""
    text = re.sub(r"^[^a-zA-Z]+", "", heading)
    text = re.sub(r"[^a-zA-Z0-9 -]", "", text)
    return text.replace(" ", "-").lower()


@dataclass
class GfmSlugger(AnchorSlugger):
    """kramdown-parser-gfm's ids: ``-1``, ``-2`` per repeated id (explicit ids are not
    counted, as kramdown does not)."""

    prefix: str = ""
    _count: dict[str, int] = field(default_factory=dict)

    def reserve(self, anchor: str) -> None:
        return None

    def slug(self, heading: str) -> str:
        base = gfm_id(heading)
        count = self._count.get(base, -1) + 1
        self._count[base] = count
        anchor = f"{base}-{count}" if count else base
        return self.prefix + (anchor or "section")


@dataclass
class KramdownSlugger(AnchorSlugger):
    """kramdown's own ids (``input: kramdown``): ``section`` when empty, repeats ``-1``."""

    prefix: str = ""
    _used: dict[str, int] = field(default_factory=dict)

    def reserve(self, anchor: str) -> None:
        return None

    def slug(self, heading: str) -> str:
        base = kramdown_id(heading) or "section"
        if base in self._used:
            self._used[base] += 1
            return f"{self.prefix}{base}-{self._used[base]}"
        self._used[base] = 0
        return self.prefix + base


def slugger() -> Slugger:
    """Jekyll's default: kramdown with the GFM parser."""
    return GfmSlugger()


def _raw_text(inline: Token) -> str:
    """The heading text kramdown ids are made of: text (typographic ``--``, ``---``,
    ``...``, ``<<``, ``>>`` gone, as kramdown makes them symbols) and code spans."""
    parts: list[str] = []
    for child in inline.children or []:
        if child.type == "text":
            parts.append(re.sub(r"-{2,3}|\.\.\.|<<|>>", "", child.content))
        elif child.type == "code_inline":
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


def _transliterated(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _heading_ids(state: StateCore) -> None:
    """Core rule: every heading without an explicit id gets kramdown's id, counted over
    the whole page (the title H1 and nested headings included, as kramdown counts)."""
    options: Mapping[str, Any] = state.env.get("site_options") or {}
    kramdown: Mapping[str, Any] = options.get("kramdown") or {}
    if (
        kramdown.get("auto_ids") is False
        or str(options.get("markdown") or "kramdown").lower() != "kramdown"
    ):
        return  # no ids, or another converter (jekyll-commonmark): the default slugger
    prefix = str(kramdown.get("auto_id_prefix") or "")
    plain = str(kramdown.get("input") or "GFM").lower() == "kramdown"
    translit = bool(kramdown.get("transliterated_header_ids"))
    ids: GfmSlugger | KramdownSlugger = (
        KramdownSlugger(prefix=prefix) if plain else GfmSlugger(prefix=prefix)
    )
    tokens = state.tokens
    for i, token in enumerate(tokens[:-1]):
        if token.type != "heading_open" or token.attrGet("id"):
            continue
        text = _raw_text(tokens[i + 1])
        token.attrSet("id", ids.slug(_transliterated(text) if plain and translit else text))


# -- kramdown block syntax ---------------------------------------------------------------

_BLOCK_IAL = re.compile(r"^\{:(?!:)\s*(?P<body>[^{}]*?)\s*\}\s*$")
_ALD = re.compile(r"^\{:[\w-]+:[^{}]*\}\s*$")
_EXTENSION = re.compile(r"^\{::(?P<name>\w+)(?P<args>[^}]*?)(?P<closed>/)?\}(?P<rest>.*)$")
_ABBREVIATION = re.compile(r"^\*\[[^\]]+\]:")
_IAL_PART = re.compile(r"""#([\w:-]+)|\.([\w-]+)|([\w-]+)=(?:"([^"]*)"|'([^']*)')""")
_BLOCK_TOKENS = ("fence", "code_block", "html_block", "hr", "table_open")


def _line(state: StateBlock, number: int) -> str:
    return state.src[state.bMarks[number] + state.tShift[number] : state.eMarks[number]]


def _hidden(state: StateBlock, start: int, stop: int, kind: str, meta: dict[str, Any]) -> None:
    token = state.push(kind, "", 0)
    token.map = [start, stop]
    token.meta = meta
    token.hidden = True
    state.line = stop


def _extension_end(state: StateBlock, start: int, end: int, name: str) -> tuple[int, str]:
    """The line after ``{:/name}`` (or ``{:/}``) and the lines between."""
    closing = re.compile(rf"\{{:/(?:{name})?\}}")
    first = _EXTENSION.match(_line(state, start))
    rest = first.group("rest") if first else ""
    inner: list[str] = []
    if closing.search(rest):
        return start + 1, closing.split(rest)[0]
    if rest.strip():
        inner.append(rest)
    line = start + 1
    while line < end:
        text = state.src[state.bMarks[line] : state.eMarks[line]]
        if closing.search(text):
            inner.append(closing.split(text)[0])
            return line + 1, "\n".join(inner)
        inner.append(text)
        line += 1
    return end, "\n".join(inner)


def kramdown_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """Block attribute lists, attribute list definitions, ``{::extension}`` blocks and
    abbreviation definitions: hidden tokens (``kramdown_ial`` carries its attributes
    for :func:`apply_ials`); ``{::nomarkdown}`` content is an ``html_block``."""
    if state.is_code_block(start):
        return False
    text = _line(state, start)
    if not text.startswith(("{:", "*[")):
        return False
    ial = _BLOCK_IAL.match(text)
    extension = _EXTENSION.match(text)
    ald = _ALD.match(text) is not None
    # An abbreviation definition never ends a paragraph (``silent``: asked as a terminator).
    if ial is None and extension is None and not ald and (silent or not _ABBREVIATION.match(text)):
        return False
    if silent:
        return True
    if ial is not None and not ald:
        _hidden(state, start, start + 1, "kramdown_ial", {"body": ial.group("body")})
    elif extension is not None and not extension.group("closed"):
        stop, inner = _extension_end(state, start, end, extension.group("name"))
        if extension.group("name") == "nomarkdown":
            token = state.push("html_block", "", 0)
            token.map = [start, stop]
            token.content = inner + "\n"
            state.line = stop
        else:
            _hidden(state, start, stop, "kramdown_extension", {"name": extension.group("name")})
    else:
        _hidden(state, start, start + 1, "kramdown_definition", {})
    return True


def _opener(tokens: list[Token], close: int) -> int | None:
    """The index of the token opening the block that ``tokens[close]`` closes."""
    closing = tokens[close]
    if closing.nesting == 0:
        return close if closing.type in _BLOCK_TOKENS or closing.block else None
    for j in range(close - 1, -1, -1):
        if tokens[j].nesting == 1 and tokens[j].level == closing.level:
            return j
    return None


def _apply(token: Token, body: str) -> None:
    for found in _IAL_PART.finditer(body):
        anchor, css, key = found.group(1), found.group(2), found.group(3)
        if anchor:
            token.attrSet("id", anchor)
            token.meta = {**(token.meta or {}), "explicit_id": True}
        elif css:
            classes = str(token.attrGet("class") or "").split()
            token.attrSet("class", " ".join([*classes, css]))
        elif key and key not in ("id", "class"):
            token.attrSet(key, found.group(4) or found.group(5) or "")


def apply_ials(state: StateCore) -> None:
    """Core rule: each block IAL gives its id and classes to the block right above it
    (no blank line between) or else to the block below; the hidden kramdown tokens
    leave the stream."""
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type != "kramdown_ial" or token.map is None:
            continue
        target: int | None = None
        if i > 0:
            above = _opener(tokens, i - 1)
            span = tokens[above].map if above is not None else None
            if span is not None and span[1] == token.map[0]:
                target = above
        if target is None and i + 1 < len(tokens) and tokens[i + 1].nesting >= 0:
            target = i + 1
        if target is not None:
            _apply(tokens[target], str(token.meta.get("body", "")))
    state.tokens = [t for t in tokens if not t.type.startswith("kramdown_")]


def plugin(md: MarkdownIt) -> None:
    """kramdown's block syntax, then kramdown's heading ids."""
    md.block.ruler.before(
        "paragraph",
        "kramdown_block",
        kramdown_block,
        {"alt": ["paragraph", "reference", "blockquote", "list"]},
    )
    md.core.ruler.push("kramdown_ials", apply_ials)
    md.core.ruler.push("kramdown_ids", _heading_ids)


def preprocess(text: str, context: PageContext) -> str:
    """Liquid rendered the way Jekyll renders it before kramdown."""

    def url(source_rel: str, meta: Mapping[str, Any]) -> str:
        return url_of(source_rel, meta, context.options)

    return render_page(text, context, url)


GENERATOR = Generator(
    name="jekyll",
    config_names=("_config.yml", "_config.yaml"),
    signals=SIGNALS,
    read_options=read_options,
    slugger=slugger,
    site_path=site_path,
    plugin=plugin,
    preprocess=preprocess,
    claims=claims,
)
