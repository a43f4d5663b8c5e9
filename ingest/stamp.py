"""A cheap fingerprint of everything a build reads, so a run over unchanged docs stops
after ``stat``-ing the files instead of parsing them all again.

The stamp covers each page file's path, size and modification time, the same for every
file a page included last time, the git commit of the tree (dates come from it), the
settings that shape the index (site URL, format, excludes, size cap, chunking, models)
and the code of the ingest pipeline itself (a new release re-parses). Anything else
that changes the stamp only costs a normal run, never a stale index.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from ingest.discovery import ContentFile
from ingest.git import git_output


@functools.cache
def pipeline_version() -> str:
    """A digest of the ingest package's source (a changed parser re-parses everything)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def git_head(folder: Path) -> str:
    """The checked-out commit of the tree holding ``folder`` ("" outside git)."""
    return (git_output(folder, "rev-parse", "HEAD") or "").strip()


def content_stamp(
    files: Sequence[ContentFile],
    included: Iterable[str],
    settings: Sequence[str],
    folder: Path,
) -> str:
    """The stamp of a docs tree as a build would read it (see the module docstring)."""
    digest = hashlib.sha256()
    for part in (pipeline_version(), git_head(folder), *settings):
        digest.update(part.encode())
        digest.update(b"\x00")
    for file in files:
        digest.update(f"{file.rel}\x00{file.size}\x00{file.mtime_ns}\x00".encode())
    for name in sorted(included):
        try:
            stat = Path(name).stat()
            digest.update(f"{name}\x00{stat.st_size}\x00{stat.st_mtime_ns}\x00".encode())
        except OSError:
            digest.update(f"{name}\x00missing\x00".encode())
    return digest.hexdigest()
