"""GitHub-style heading anchors, so a citation can link to ``/learn/<slug>#<anchor>``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DROP = re.compile(r"[^\w\- ]", re.UNICODE)


def anchor_base(heading: str) -> str:
    """The anchor GitHub derives from a heading's text before de-duplication.

    Lower-case; every character that is not a letter, digit, space, hyphen or underscore
    dropped; each space replaced by a hyphen (no collapsing).
    """
    return _DROP.sub("", heading.strip().lower()).replace(" ", "-")


@dataclass
class AnchorSlugger:
    """Hands out unique anchors within one document: repeats get ``-1``, ``-2``, ..."""

    _seen: dict[str, int] = field(default_factory=dict)

    def slug(self, heading: str) -> str:
        base = anchor_base(heading)
        candidate = base
        count = self._seen.get(base, 0)
        while candidate in self._seen:
            count += 1
            candidate = f"{base}-{count}"
        self._seen[base] = count
        self._seen[candidate] = 0
        return candidate
