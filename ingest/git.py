"""Asking git about the docs tree: one place that runs it, with a timeout, and treats a
missing git, a tree outside a checkout or a failing command alike (``None``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 10


def git_output(folder: Path, *args: str, timeout: float = GIT_TIMEOUT_S) -> str | None:
    """Standard output of ``git -C folder args...``, or ``None`` when git is missing,
    times out or fails."""
    try:
        out = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def work_tree(folder: Path) -> Path | None:
    """The root of the git checkout holding ``folder`` (resolved), or ``None``."""
    top = (git_output(folder, "rev-parse", "--show-toplevel") or "").strip()
    return Path(top).resolve() if top else None
