"""Liquid, as Jekyll renders it before the Markdown converter sees the page.

A text pass (Jekyll's own order: Liquid first, then kramdown) that keeps what the reader
of the published page sees and the line count wherever it can:

- ``{% raw %}...{% endraw %}``: the content, verbatim (nothing inside is Liquid, even in a
  code fence: Liquid in code is rendered like any other, only ``raw`` protects it);
- ``{% comment %}...{% endcomment %}``: gone with its content; ``{% capture x %}``
  stores its content in ``x`` instead of printing it;
- ``{% highlight ruby linenos %}...{% endhighlight %}``: a fenced code block in that
  language;
- ``{% include file.html key="value" %}``: the file from ``_includes/`` rendered with its
  parameters (``include.key``), or dropped with one warning per missing name and page;
  ``{% include_relative file %}`` beside the page;
- ``{% link _docs/x.md %}`` / ``{% post_url 2020-01-02-name %}``: the target's URL by the
  site's permalink rules;
- ``{{ site.x.y }}`` (``_config.yml``, ``_data/``), ``{{ page.x }}`` (front matter),
  ``{{ include.x }}``, string literals, and the filters that make URLs and text
  (``relative_url``, ``absolute_url``, ``prepend``, ``append``, ``default`` ...); an
  expression whose value is unknown (a loop variable, an unknown filter) prints nothing;
- every other tag (``if``, ``for``, ``assign`` ...) prints nothing, its body stays.

Whitespace control (``{%-``, ``-%}``) trims spaces on the tag's own line only, so lines
stay where they were.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ingest.generators import PageContext

MAX_DEPTH = 4
MAX_FILE_BYTES = 1_000_000
_TAG = re.compile(r"\{%(-?)\s*(\w+)(.*?)(-?)%\}|\{\{(-?)(.*?)(-?)\}\}", re.S)
_RAW_END = re.compile(r"\{%-?\s*endraw\s*-?%\}")
_FRONT_MATTER = re.compile(r"\A(---[ \t]*\r?\n(?:.*?\r?\n)?---[ \t]*(?:\r?\n|\Z))", re.S)
_PARAM = re.compile(r"""([\w-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s"']+)""")
_SEGMENT = re.compile(r"""\[\s*(?:"([^"]*)"|'([^']*)'|(-?\d+))\s*\]|\.?([\w-]+)""")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_SLUG_DROP = re.compile(r"[^\w]+")
# Block tags whose content never prints (``capture`` stores it in a variable).
_SILENT_BLOCKS = {"comment": "endcomment", "capture": "endcapture"}


def split_front_matter(text: str) -> tuple[str, str]:
    """The page's front matter block (``""`` when none) and the rest of the text."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return "", text
    return match.group(1), text[match.end() :]


def read_yaml(text: str) -> dict[str, Any]:
    """A YAML mapping, or ``{}`` when the text is not one."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def front_matter_of(text: str) -> dict[str, Any]:
    """The front matter of a page's text as a mapping."""
    block, _ = split_front_matter(text)
    return read_yaml(block.strip().strip("-")) if block else {}


def slugify(text: str) -> str:
    """Jekyll's ``slugify`` filter (default mode): lower-case, runs of anything but
    letters and digits one hyphen."""
    return _SLUG_DROP.sub("-", text.lower().replace("_", "-")).strip("-")


def _scalar(value: Any) -> str | None:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | dt.date):
        return str(value)
    return None


UrlOf = Callable[[str, Mapping[str, Any]], str]


@dataclass
class Liquid:
    """One page's Liquid rendering (see the module docstring)."""

    context: PageContext
    page: dict[str, Any]
    url_of: UrlOf  # a source-relative file path and its front matter -> its URL
    offset: int = 0  # lines of front matter before the rendered text
    variables: dict[str, Any] = field(default_factory=dict)
    warned: set[str] = field(default_factory=set)

    @property
    def options(self) -> Mapping[str, Any]:
        return self.context.options

    @property
    def source(self) -> Path:
        return Path(str(self.options.get("source") or self.context.docs_root))

    # -- rendering -------------------------------------------------------------------

    def render(self, text: str, scope: Mapping[str, Any], depth: int = 0) -> str:
        """``text`` with its Liquid rendered (``scope``: ``include`` parameters)."""
        out: list[str] = []
        pos = 0
        while True:
            match = _TAG.search(text, pos)
            if match is None:
                out.append(text[pos:])
                return "".join(out)
            before = text[pos : match.start()]
            if match.group(1) == "-" or match.group(5) == "-":
                before = before.rstrip(" \t")
            out.append(before)
            if match.group(2) is None:  # {{ expression }}
                value = self.evaluate(match.group(6), scope)
                out.append((value or "") + "\n" * match.group(0).count("\n"))
                pos = self._after(text, match.end(), match.group(7) == "-")
                continue
            name, args = match.group(2), match.group(3).strip()
            printed, pos = self._tag(text, match, name, args, scope, depth)
            out.append(printed)
            pos = self._after(text, pos, text.endswith("-%}", 0, pos))

    @staticmethod
    def _after(text: str, pos: int, trim: bool) -> int:
        if not trim:
            return pos
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        return pos

    def _tag(
        self,
        text: str,
        match: re.Match[str],
        name: str,
        args: str,
        scope: Mapping[str, Any],
        depth: int,
    ) -> tuple[str, int]:
        """What a tag prints and where the text continues."""
        lines = "\n" * match.group(0).count("\n")
        if name == "raw":
            end = _RAW_END.search(text, match.end())
            stop = end.start() if end else len(text)
            return text[match.end() : stop], end.end() if end else len(text)
        if name in _SILENT_BLOCKS:
            body, stop = self._block(text, match.end(), name, _SILENT_BLOCKS[name])
            if name == "capture" and args:
                self.variables[args.split()[0]] = self.render(body, scope, depth).strip()
            return lines + "\n" * text.count("\n", match.end(), stop), stop
        if name == "highlight":
            body, stop = self._block(text, match.end(), name, "endhighlight")
            return self._highlight(args, self.render(body, scope, depth), text, match), stop
        if name == "assign":
            self._assign(args, scope)
            return lines, match.end()
        if name in ("include", "include_relative"):
            return self._include(name, args, scope, depth, match) + lines, match.end()
        if name == "link":
            return self._link(self.render(args, scope, depth).strip()) + lines, match.end()
        if name == "post_url":
            return self._post_url(self.render(args, scope, depth).strip()) + lines, match.end()
        return lines, match.end()

    @staticmethod
    def _block(text: str, start: int, name: str, end_name: str) -> tuple[str, int]:
        """The body of a block tag (nested ones of its name counted) and where it ends."""
        nesting = 1
        pattern = re.compile(rf"\{{%-?\s*({name}|{end_name})\b.*?-?%\}}", re.S)
        for found in pattern.finditer(text, start):
            nesting += 1 if found.group(1) == name else -1
            if nesting == 0:
                return text[start : found.start()], found.end()
        return text[start:], len(text)

    @staticmethod
    def _highlight(args: str, body: str, text: str, match: re.Match[str]) -> str:
        language = args.split()[0] if args.split() else ""
        fence = "```"
        while fence in body:
            fence += "`"
        line_start = text.rfind("\n", 0, match.start()) + 1
        lead = "" if not text[line_start : match.start()].strip() else "\n"
        body = body[1:] if body.startswith("\n") else body
        code = body.rstrip(" \t")
        indent = body[len(code) :] if code.endswith("\n") or not code else ""  # the end tag's
        tail = "" if code.endswith("\n") or not code else "\n"
        return f"{lead}{fence}{language}\n{code}{tail}{indent}{fence}"

    def _assign(self, args: str, scope: Mapping[str, Any]) -> None:
        name, _, expression = args.partition("=")
        value = self.evaluate(expression, scope) if expression.strip() else None
        if name.strip() and value is not None:
            self.variables[name.strip()] = value

    # -- tags that read other files ---------------------------------------------------

    def _warn(self, key: str, message: str, match: re.Match[str], depth: int) -> None:
        """Warn once per ``key`` and page (with the page's line when on the page)."""
        if key in self.warned:
            return
        self.warned.add(key)
        line = match.string.count("\n", 0, match.start()) + 1 + self.offset
        self.context.warnings.append((message, line if depth == 0 else None))

    def _read(self, path: Path) -> str | None:
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        root = self.context.docs_root.resolve()
        if not real.is_relative_to(root) or not real.is_file():
            return None
        if real.stat().st_size > MAX_FILE_BYTES:
            return None
        try:
            text = real.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return None
        self.context.included.add(real)
        return text

    def _include(
        self, name: str, args: str, scope: Mapping[str, Any], depth: int, match: re.Match[str]
    ) -> str:
        words = self.render(args, scope, depth).split(None, 1)
        if not words:
            return ""
        target, rest = words[0], words[1] if len(words) > 1 else ""
        params: dict[str, Any] = {}
        for key, raw in _PARAM.findall(rest):
            if raw[:1] in "\"'":
                params[key] = raw[1:-1]
            else:
                params[key] = self.evaluate(raw, scope) or ""
        folder = self.context.page.parent if name == "include_relative" else self.source
        base = folder if name == "include_relative" else folder / "_includes"
        body = self._read(base / target) if depth < MAX_DEPTH else None
        if body is None:
            message = f"Liquid include '{target}' was not found; left out"
            self._warn(f"include:{target}", message, match, depth)
            return ""
        return self.render(body, {**scope, "include": params}, depth + 1).rstrip("\n")

    def _link(self, target: str) -> str:
        target = target.strip("'\"").lstrip("/")
        path = self.source / target
        text = self._read(path) if path.suffix in (".md", ".markdown", ".html") else None
        meta = front_matter_of(text) if text is not None else {}
        return self._relative(self.url_of(target, meta))

    def _post_url(self, name: str) -> str:
        name = name.strip("'\"").lstrip("/")
        folder = PurePosixPath(name).parent
        stem = PurePosixPath(name).name
        posts = self.source / "_posts" / folder
        found = sorted(posts.glob(f"{stem}.*")) if posts.is_dir() else []
        meta: dict[str, Any] = {}
        target = f"_posts/{name}.md"
        if found:
            text = self._read(found[0])
            meta = front_matter_of(text) if text is not None else {}
            target = f"_posts/{(folder / found[0].name).as_posix()}"
        return self._relative(self.url_of(target.replace("/./", "/"), meta))

    def _relative(self, url: str) -> str:
        base = str(self.options.get("baseurl") or "").rstrip("/")
        return f"{base}/{url.lstrip('/')}" if base else url

    # -- expressions -----------------------------------------------------------------

    def evaluate(self, expression: str, scope: Mapping[str, Any]) -> str | None:
        """The printed value of ``value | filter: arg ...`` (None when unknown)."""
        parts = _split_outside_quotes(expression.strip(), "|")
        value = self._value(parts[0].strip(), scope)
        for part in parts[1:]:
            if value is None:
                return None
            name, _, raw_args = part.strip().partition(":")
            args = [self._value(a.strip(), scope) for a in _split_outside_quotes(raw_args, ",")]
            value = self._filter(name.strip(), value, [a for a in args if a is not None])
        return _scalar(value) if value is not None else None

    def _value(self, token: str, scope: Mapping[str, Any]) -> Any:
        if not token:
            return None
        if token[0] in "\"'" and token[-1:] == token[0] and len(token) > 1:
            return token[1:-1]
        if _NUMBER.match(token):
            return token
        if token in ("true", "false", "nil", "empty"):
            return None if token in ("nil", "empty") else token
        return self._lookup(token, scope)

    def _lookup(self, path: str, scope: Mapping[str, Any]) -> Any:
        segments = [next(g for g in m.groups() if g is not None) for m in _SEGMENT.finditer(path)]
        if not segments:
            return None
        roots: dict[str, Any] = {
            "site": self._site(),
            "page": self.page,
            "jekyll": {"environment": "production"},
            **self.variables,
            **scope,
        }
        if segments[0] not in roots:
            return None
        value: Any = roots[segments[0]]
        for segment in segments[1:]:
            if isinstance(value, Mapping):
                value = value.get(segment)
            elif isinstance(value, list) and re.fullmatch(r"-?\d+", segment):
                index = int(segment)
                value = value[index] if -len(value) <= index < len(value) else None
            else:
                return None
        return value

    def _site(self) -> dict[str, Any]:
        site = dict(self.options.get("site") or {})
        site.setdefault("baseurl", self.options.get("baseurl") or "")
        site["data"] = _DataFolder(self.source / "_data", self)
        return site

    def _filter(self, name: str, value: Any, args: list[Any]) -> Any:
        text = _scalar(value)
        if text is None:
            return None
        first = str(args[0]) if args else ""
        url = str(self.options.get("url") or "").rstrip("/")
        filters: dict[str, Callable[[], Any]] = {
            "relative_url": lambda: self._relative_url(text),
            "absolute_url": lambda: url + self._relative_url(text),
            "prepend": lambda: first + text,
            "append": lambda: text + first,
            "default": lambda: text or first,
            "downcase": lambda: text.lower(),
            "upcase": lambda: text.upper(),
            "capitalize": lambda: text[:1].upper() + text[1:],
            "strip": lambda: text.strip(),
            "slugify": lambda: slugify(text),
            "replace": lambda: text.replace(first, str(args[1]) if len(args) > 1 else ""),
            "remove": lambda: text.replace(first, ""),
            "markdownify": lambda: text,
            "smartify": lambda: text,
            "escape": lambda: text,
            "xml_escape": lambda: text,
            "uri_escape": lambda: text,
            "strip_html": lambda: re.sub(r"<[^>]*>", "", text),
            "jsonify": lambda: json.dumps(value, default=str),
        }
        chosen = filters.get(name)
        return chosen() if chosen is not None else None

    def _relative_url(self, text: str) -> str:
        if re.match(r"^[a-z][\w+.-]*:", text):
            return text
        base = str(self.options.get("baseurl") or "").strip("/")
        path = text if text.startswith("/") else f"/{text}"
        return f"/{base}{path}" if base else path


class _DataFolder(dict[str, Any]):
    """``site.data``: the files of ``_data/`` read on first use."""

    def __init__(self, folder: Path, liquid: Liquid) -> None:
        super().__init__()
        self._folder = folder
        self._liquid = liquid

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = self._load(key)
        value = super().get(key)
        return default if value is None else value

    def _load(self, key: str) -> Any:
        for suffix in (".yml", ".yaml", ".json"):
            path = self._folder / f"{key}{suffix}"
            if not path.is_file():
                continue
            text = self._liquid._read(path)
            if text is None:
                return None
            if suffix == ".json":
                try:
                    return json.loads(text)
                except ValueError:
                    return None
            try:
                return yaml.safe_load(text)
            except yaml.YAMLError:
                return None
        folder = self._folder / key
        return _DataFolder(folder, self._liquid) if folder.is_dir() else None


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == separator:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def render_page(text: str, context: PageContext, url_of: UrlOf) -> str:
    """A Jekyll page's text with its Liquid rendered (front matter kept as written)."""
    block, body = split_front_matter(text)
    meta = read_yaml(block.strip().strip("-")) if block else {}
    if meta.get("render_with_liquid") is False:
        return text
    source = Path(str(context.options.get("source") or context.docs_root))
    try:
        rel = context.page.resolve().relative_to(source.resolve()).as_posix()
    except ValueError:
        rel = context.rel.as_posix()
    page = {"url": url_of(rel, meta), "path": rel, **meta}
    liquid = Liquid(context=context, page=page, url_of=url_of, offset=block.count("\n"))
    return block + liquid.render(body, {})
