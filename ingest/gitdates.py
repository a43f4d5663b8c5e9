"""When each page last changed: its last commit in a git checkout (one ``git log`` for the
whole tree), else its modification time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ingest.git import git_output, work_tree

LOG_TIMEOUT_S = 60  # one `git log` over the whole tree


def last_commit_dates(folder: Path) -> dict[Path, dt.date]:
    """Resolved file path -> date of the newest commit touching it (empty when ``folder``
    is not in a git checkout or git is missing)."""
    root = work_tree(folder)
    if root is None:
        return {}
    log = git_output(
        folder,
        "-c",
        "core.quotePath=false",
        "log",
        "--format=%x00%cI",
        "--name-only",
        "--",
        ".",
        timeout=LOG_TIMEOUT_S,
    )
    if log is None:
        return {}
    dates: dict[Path, dt.date] = {}
    current: dt.date | None = None
    for line in log.splitlines():
        if line.startswith("\x00"):
            try:
                current = dt.datetime.fromisoformat(line[1:]).date()
            except ValueError:
                current = None
        elif line and current is not None:
            dates.setdefault(root / line, current)
    return dates


def modified_date(path: Path) -> dt.date:
    """A file's modification date (UTC)."""
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date()
