"""Saying "the disk is full" when it is: SQLite reports a full disk under several names
("database or disk is full", "disk I/O error" when its shared memory cannot grow), so a
failed write is explained by the free space of the file system it writes to."""

from __future__ import annotations

import shutil
from pathlib import Path

FULL_BELOW = 1 << 20  # bytes free under which a failed write is blamed on a full disk


def explain(error: BaseException, path: Path) -> str:
    """The error, with "the disk is full" added when the file system of ``path`` has
    (almost) no space left."""
    text = str(error)
    try:
        free = shutil.disk_usage(path.parent if not path.is_dir() else path).free
    except OSError:
        return text
    if free < FULL_BELOW:
        return f"{text} (the disk is full: {free // 1024} KB free)"
    return text
