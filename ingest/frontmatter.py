"""Front matter: every field optional, each one read leniently.

YAML between ``---`` lines (found by the parser's front-matter plugin) or TOML between
``+++`` lines (Hugo). A front matter that cannot be read at all (invalid YAML, not a
mapping) is an error naming the line; a field of the wrong type is a warning and the
field is derived as if it were absent, so the page still indexes.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

# libyaml's safe loader when PyYAML was built with it (10x faster), else the Python one.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TOML = re.compile(r"\A\+\+\+[ \t]*\r?\n(.*?)^\+\+\+[ \t]*(?:\r?\n|\Z)", re.S | re.M)
MAX_TITLE = 300
MAX_SUMMARY = 1000
MAX_LIST = 100
_DATE_KEYS = ("updated", "last_update", "lastmod", "last_modified", "modified", "date")


class FrontMatterError(ValueError):
    """The front matter cannot be read; ``line`` is 1-based in the file."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def split_toml(text: str) -> tuple[dict[str, Any] | None, str]:
    """Hugo's ``+++`` TOML front matter, and the text with it blanked out (same lines)."""
    match = _TOML.match(text)
    if match is None:
        return None, text
    try:
        data = tomllib.loads(match.group(1))
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise FrontMatterError(
            f"front matter is not valid TOML: {exc}", line + 1 if line else 1
        ) from exc
    blank = "\n" * match.group(0).count("\n")
    return data, blank + text[match.end() :]


def load_yaml(source: str, first_line: int) -> dict[str, Any]:
    """The mapping in a YAML front matter whose ``---`` is on line ``first_line``."""
    try:
        data = yaml.load(source, Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        # Where the broken construct starts (an unclosed "[") beats where parsing gave up.
        mark = getattr(exc, "context_mark", None) or getattr(exc, "problem_mark", None)
        line = first_line + 1 + mark.line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FrontMatterError(f"front matter is not valid YAML: {problem}", line) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FrontMatterError("front matter must be a mapping of fields", first_line + 1)
    return data


@dataclass(frozen=True)
class Meta:
    """The fields the index uses, each ``None`` when absent or unusable."""

    raw: Mapping[str, Any]
    title: str | None = None
    summary: str | None = None
    tags: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()
    updated: dt.date | None = None
    excluded: str = ""  # why the page is not published ("" = it is)
    problems: list[str] = field(default_factory=list)


def _text(data: Mapping[str, Any], key: str, limit: int, problems: list[str]) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        problems.append(f"'{key}' should be text; ignored")
        return None
    value = " ".join(value.split())
    if not value:
        return None
    if len(value) > limit:
        problems.append(f"'{key}' is longer than {limit} characters; cut")
        value = value[:limit].rstrip()
    return value


def _strings(data: Mapping[str, Any], key: str, problems: list[str]) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [part for part in value.split(",")]
    if not isinstance(value, list):
        problems.append(f"'{key}' should be a list; ignored")
        return ()
    out = []
    for item in value[:MAX_LIST]:
        if isinstance(item, (str, int, float)) and not isinstance(item, bool):
            text = " ".join(str(item).split())
            if text:
                out.append(text)
        elif isinstance(item, Mapping) and isinstance(item.get("label"), str):
            out.append(item["label"].strip())  # Docusaurus tag objects
        else:
            problems.append(f"'{key}' has an entry that is not text; it was left out")
    return tuple(dict.fromkeys(out))


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, Mapping):
        return _date(value.get("date"))
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date()
        except ValueError:
            return None
    return None


def _excluded(data: Mapping[str, Any]) -> str:
    if data.get("draft") is True:
        return "a draft (draft: true)"
    if data.get("unlisted") is True:
        return "unlisted (unlisted: true)"
    search = data.get("search")
    if isinstance(search, Mapping) and search.get("exclude") is True:
        return "excluded from search (search: exclude: true)"
    return ""


def read_meta(data: Mapping[str, Any]) -> Meta:
    """The fields of a front matter, with a note for each one that was unusable."""
    problems: list[str] = []
    title = _text(data, "title", MAX_TITLE, problems)
    summary = _text(data, "summary", MAX_SUMMARY, problems) or _text(
        data, "description", MAX_SUMMARY, problems
    )
    updated = None
    for key in _DATE_KEYS:
        if data.get(key) is not None:
            updated = _date(data[key])
            if updated is None:
                problems.append(f"'{key}' is not a date (YYYY-MM-DD); ignored")
            break
    return Meta(
        raw=data,
        title=title,
        summary=summary,
        tags=_strings(data, "tags", problems),
        questions=_strings(data, "questions", problems),
        updated=updated,
        excluded=_excluded(data),
        problems=problems,
    )
