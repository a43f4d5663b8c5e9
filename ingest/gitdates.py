"""When each page last changed: its last commit in a git checkout (one ``git log`` for the
whole tree), else its modification time."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 60


def last_commit_dates(folder: Path) -> dict[Path, dt.date]:
    """Resolved file path -> date of the newest commit touching it (empty when ``folder``
    is not in a git checkout or git is missing)."""
    try:
        top = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
        if top.returncode != 0:
            return {}
        log = subprocess.run(
            [
                "git",
                "-C",
                str(folder),
                "-c",
                "core.quotePath=false",
                "log",
                "--format=%x00%cI",
                "--name-only",
                "--",
                ".",
            ],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    if log.returncode != 0:
        return {}
    root = Path(top.stdout.strip()).resolve()
    dates: dict[Path, dt.date] = {}
    current: dt.date | None = None
    for line in log.stdout.splitlines():
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
