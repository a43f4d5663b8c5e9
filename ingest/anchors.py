"""Heading anchors computed the way each site generator computes them, so a citation's
``#anchor`` lands on the heading of the real page.

- GitHub, Docusaurus (github-slugger) and Hugo (goldmark's ``github`` ids): lower-case,
  every character that is not a letter, digit, space, hyphen or underscore dropped, each
  space a hyphen; repeats get ``-1``, ``-2``.
- MkDocs (Python-Markdown's ``toc`` extension): accents folded to ASCII, the same
  characters dropped, runs of spaces and hyphens collapsed to one hyphen; repeats get
  ``_1``, ``_2``.

Explicit ids (``## Title {#id}``) are taken as written and reserved first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

_DROP = re.compile(r"[^\w\- ]", re.UNICODE)
_TOC_DROP = re.compile(r"[^\w\s-]")
_TOC_COLLAPSE = re.compile(r"[-\s]+")
_TOC_COUNTED = re.compile(r"^(.*)_([0-9]+)$")


def anchor_base(heading: str) -> str:
    """The anchor GitHub derives from a heading's text before de-duplication.

    Lower-case; every character that is not a letter, digit, space, hyphen or underscore
    dropped; each space replaced by a hyphen (no collapsing).
    """
    return _DROP.sub("", heading.strip().lower()).replace(" ", "-")


def toc_slug(heading: str) -> str:
    """Python-Markdown's ``toc.slugify`` (MkDocs' default) before de-duplication."""
    value = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii")
    value = _TOC_DROP.sub("", value).strip().lower()
    return _TOC_COLLAPSE.sub("-", value)


@dataclass
class AnchorSlugger:
    """Hands out unique GitHub-style anchors within one document: repeats get ``-1``,
    ``-2``, ..."""

    _seen: dict[str, int] = field(default_factory=dict)

    def reserve(self, anchor: str) -> None:
        """Mark an explicit id as taken."""
        self._seen.setdefault(anchor, 0)

    def base(self, heading: str) -> str:
        """The anchor before de-duplication (a generator with its own rule overrides it)."""
        return anchor_base(heading)

    def slug(self, heading: str) -> str:
        base = self.base(heading)
        candidate = base
        count = self._seen.get(base, 0)
        while candidate in self._seen:
            count += 1
            candidate = f"{base}-{count}"
        self._seen[base] = count
        self._seen[candidate] = 0
        return candidate


@dataclass
class TocSlugger:
    """Python-Markdown's ``toc`` ids: empty or repeated ids get ``_1``, ``_2``, ..."""

    _seen: set[str] = field(default_factory=set)

    def reserve(self, anchor: str) -> None:
        self._seen.add(anchor)

    def slug(self, heading: str) -> str:
        anchor = toc_slug(heading)
        while anchor in self._seen or not anchor:
            counted = _TOC_COUNTED.match(anchor)
            anchor = f"{counted.group(1)}_{int(counted.group(2)) + 1}" if counted else f"{anchor}_1"
        self._seen.add(anchor)
        return anchor


Slugger = AnchorSlugger | TocSlugger
SluggerFactory = Callable[[], Slugger]
