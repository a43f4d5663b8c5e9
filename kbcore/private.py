"""Files only the service's own user may read: visitors' questions, feedback, tokens.

Databases and runtime files are created 0600, and the folders created for them 0700,
whatever the process's umask (an existing folder is left as its owner set it).
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_folder(path: Path) -> None:
    """Create ``path`` (and missing parents) readable by this user only."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        os.chmod(folder, FOLDER_MODE)


def private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 when it does not exist (SQLite gives its -wal and
    -shm files the database file's permissions)."""
    private_folder(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)
