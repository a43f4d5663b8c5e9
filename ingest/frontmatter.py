"""YAML front matter: split it from the body and validate it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kbcore.errors import ContentError

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# libyaml's safe loader when PyYAML was built with it (10x faster), else the Python one.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FENCE = re.compile(r"\A---[ \t]*\r?\n(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S | re.M)


class ArticleMeta(BaseModel):
    """The validated front matter of an article."""

    model_config = ConfigDict(extra="allow", frozen=True)

    title: str = Field(min_length=1, max_length=300)
    slug: str = Field(pattern=SLUG_PATTERN, max_length=120)
    summary: str = Field(min_length=1, max_length=1000)
    tags: tuple[str, ...] = Field(min_length=1)
    updated: dt.date
    questions: tuple[str, ...] = ()

    @field_validator("title", "summary")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @field_validator("tags", "questions", mode="before")
    @classmethod
    def _list_of_strings(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError("must be a list, e.g. [rag, chunking]")
        if isinstance(value, list) and not all(isinstance(v, str) and v.strip() for v in value):
            raise ValueError("must be a list of non-empty strings")
        return value


@dataclass(frozen=True)
class FrontMatter:
    """Raw front matter (``None`` when the file has none) and the body after it."""

    data: dict[str, Any] | None
    body: str
    body_line: int  # 0-based line number of the body's first line in the file


def split_front_matter(path: Path | str, text: str) -> FrontMatter:
    """Separate ``---``-fenced YAML from the Markdown body; YAML errors name file and line."""
    match = _FENCE.match(text)
    if match is None:
        if text.startswith("---\n") or text.startswith("---\r\n"):
            raise ContentError(path, "front matter is opened with '---' but never closed", 1)
        return FrontMatter(None, text, 0)
    try:
        data = yaml.load(match.group(1), Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContentError(path, f"front matter is not valid YAML: {problem}", line) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ContentError(path, "front matter must be a YAML mapping of fields", 2)
    body_line = text.count("\n", 0, match.end())
    return FrontMatter(data, text[match.end() :], body_line)


def validate_meta(path: Path | str, data: dict[str, Any], text: str) -> ArticleMeta:
    """Validate front-matter fields; the error names the field, the file and its line."""
    try:
        return ArticleMeta.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field_name = str(first["loc"][0]) if first["loc"] else "front matter"
        reason = "is missing" if first["type"] == "missing" else f"is invalid: {first['msg']}"
        return _raise(path, f"front matter field '{field_name}' {reason}", text, field_name)


def _raise(path: Path | str, message: str, text: str, field_name: str) -> ArticleMeta:
    line = None
    for number, raw in enumerate(text.splitlines()[:200], start=1):
        if raw.startswith(f"{field_name}:"):
            line = number
            break
    raise ContentError(path, message, line)
