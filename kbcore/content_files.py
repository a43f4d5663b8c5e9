"""Whether an indexed page's source file is still there: a deleted file's sections stop
being served at once, before the next index version drops them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ContentFiles:
    """The content folder as the answer path checks it (one ``stat`` per hit)."""

    root: Path
    on_missing: Callable[[set[str]], None] | None = None  # e.g. ask for a reindex

    def present(self, paths: set[str]) -> set[str]:
        """The relative paths among ``paths`` whose files exist. Without a content folder
        (an index served without its sources) every path counts as present."""
        if not self.root.is_dir():
            return paths
        kept = {p for p in paths if not p or (self.root / p).is_file()}
        missing = paths - kept
        if missing and self.on_missing is not None:
            self.on_missing(missing)
        return kept
