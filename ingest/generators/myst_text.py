"""mystmd's string rules: label identifiers, html ids and page slugs (myst-common's
``normalizeLabel``/``createHtmlId``, myst-cli's ``createSlug``)."""

from __future__ import annotations

import re

_SPACE = re.compile(r"[\t\n\r ]+")
_QUOTES = re.compile(r"['‘’\"“”]+")
_NOT_ID = re.compile(r"[^a-z0-9-]")
_LEADING = re.compile(r"^([0-9-])")
_REPEATS = re.compile(r"-[-]+")
_EDGES = re.compile(r"(?:^[-]+)|(?:[-]+$)")
_YEAR = re.compile(r"^([12][0-9]{3})([^0-9])?")
_FIVE_DIGITS = re.compile(r"^([0-9]{5})")
_ENUMERATION = re.compile(r"^([0-9_.-]+)")
_SLUG_CHAR = re.compile(r"[a-z0-9-]")


def normalize_label(label: str) -> str:
    """A label's identifier: whitespace collapsed, quotes dropped, trimmed, lower-case."""
    return _QUOTES.sub("", _SPACE.sub(" ", label)).strip().lower()


def html_id(identifier: str) -> str:
    """``createHtmlId``: lower-case, other characters ``-``, a leading digit or hyphen
    prefixed ``id-``, repeated hyphens collapsed, edge hyphens trimmed."""
    if not identifier:
        return ""
    value = _NOT_ID.sub("-", identifier.lower())
    value = _LEADING.sub(r"id-\1", value, count=1)
    value = _REPEATS.sub("-", value)
    return _EDGES.sub("", value)


def _remove_enumeration(name: str) -> str:
    if _YEAR.match(name) or _FIVE_DIGITS.match(name):
        return name
    removed = _ENUMERATION.sub("", name, count=1)
    return removed or name


def create_slug(name: str) -> str:
    """``createSlug``: leading enumeration dropped, ``&`` -> ``and``, other characters one
    hyphen, trimmed, at most 50 characters."""
    text = _remove_enumeration(name).replace("&", "¶and¶").lower()
    out: list[str] = []
    for char in text:
        if _SLUG_CHAR.match(char):
            out.append(char)
        elif not out or out[-1] != "-":
            out.append("-")
    slug = _REPEATS.sub("-", "".join(out)).strip("-")
    return slug[:50]
