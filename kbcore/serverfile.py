"""The runtime file a running `kb serve` leaves in its data folder (``server.json``,
mode 0600): its URL and a per-start token, so the `kb` commands of the same user on the
same machine can ask it to do what needs the embedded index it holds.

The server writes it once it owns the folder and removes it on a clean shutdown; a file
left by a process that is gone (a crash, SIGKILL) is ignored and removed by readers.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from kbcore.private import private_folder

FILE_NAME = "server.json"


@dataclass(frozen=True)
class ServerInfo:
    """Where the running server listens and the token it accepts from this machine."""

    url: str
    token: str
    pid: int


def server_file(data_dir: Path) -> Path:
    """Where the runtime file of a data folder lives."""
    return data_dir / FILE_NAME


def write_server_file(data_dir: Path, info: ServerInfo) -> Path:
    """Write the runtime file atomically, readable by its owner only."""
    private_folder(data_dir)
    path = server_file(data_dir)
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".server.")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(info), handle)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive, though its file is not ours to use
    return True


def read_server_file(data_dir: Path) -> ServerInfo | None:
    """The running server's info, or None (no file, unreadable, or its process is gone:
    then the stale file is removed)."""
    path = server_file(data_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        info = ServerInfo(url=str(raw["url"]), token=str(raw["token"]), pid=int(raw["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _alive(info.pid):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return info


def remove_server_file(data_dir: Path, pid: int) -> None:
    """Remove the runtime file if it is this process's."""
    path = server_file(data_dir)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(raw, dict) and raw.get("pid") == pid:
        with contextlib.suppress(OSError):
            path.unlink()
