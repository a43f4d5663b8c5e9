"""Appending questions to the golden file (``KB_GOLDEN_FILE``), so ``kb eval`` grows from
real traffic.

The file is the one configured, never a path from a request. It must be a ``.jsonl``
regular file (or not exist yet, in an existing folder); a symbolic link is refused
(``O_NOFOLLOW``), so the file cannot be swapped for a link to somewhere else. Writers are
serialised twice: a lock within the process and ``flock`` across processes, so two
promotions never interleave their lines and an id is never appended twice. A file that
does not end with a newline gets one before the new line.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any


class GoldenFileError(Exception):
    """The golden file cannot be appended to (the message says why)."""


class DuplicateIdError(GoldenFileError):
    """The golden file already has a question with this id."""


class GoldenFile:
    """One golden question file, appended to one line at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def check(self) -> Path:
        """The absolute path, or why it cannot be written."""
        path = Path(os.path.abspath(self.path))
        if path.suffix != ".jsonl":
            raise GoldenFileError(f"KB_GOLDEN_FILE must be a .jsonl file, not '{path.name}'")
        if not path.parent.is_dir():
            raise GoldenFileError(f"the folder of KB_GOLDEN_FILE ({path.parent}) does not exist")
        return path

    def append(self, line: dict[str, Any]) -> Path:
        """Append one question (its ``id`` must be new); the file's path."""
        path = self.check()
        data = json.dumps(line, ensure_ascii=False).encode()
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        with self._lock:
            try:
                fd = os.open(path, flags, 0o644)
            except OSError as exc:
                raise GoldenFileError(f"cannot open KB_GOLDEN_FILE ({path}): {exc}") from exc
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise GoldenFileError(f"KB_GOLDEN_FILE ({path}) is not a regular file")
                fcntl.flock(fd, fcntl.LOCK_EX)
                existing = _read_all(fd)
                if str(line.get("id")) in _ids(existing):
                    raise DuplicateIdError(f"the golden file already has '{line.get('id')}'")
                prefix = b"\n" if existing and not existing.endswith(b"\n") else b""
                os.write(fd, prefix + data + b"\n")
                os.fsync(fd)
            except OSError as exc:
                raise GoldenFileError(f"cannot write KB_GOLDEN_FILE ({path}): {exc}") from exc
            finally:
                os.close(fd)  # also releases the flock
        return path


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, min(1 << 20, size - offset), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _ids(content: bytes) -> set[str]:
    ids = set()
    for raw in content.decode("utf-8", errors="replace").splitlines():
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict) and "id" in value:
            ids.add(str(value["id"]))
    return ids
