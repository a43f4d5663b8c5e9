"""One data folder, one content folder: an index is never silently replaced by the
index of another docs tree.

Each index version records the content folder it was built from (resolved). A run
against another folder stops with :class:`OtherContentError` naming both, unless it was
asked to ``replace`` (``kb ingest --replace``, ``kb serve --replace``): a second docs
tree belongs in its own data folder (``--data``), where its index and its visitors'
questions stay apart from the first one's.
"""

from __future__ import annotations

from pathlib import Path

from kbcore.errors import KBError, OtherContentError
from kbcore.index_store import IndexStore


def resolved_folder(path: Path) -> str:
    """How a content or data folder is recorded and compared."""
    return str(path.expanduser().resolve())


def built_from(store: IndexStore) -> str | None:
    """The content folder the served version was built from; None when nothing is
    served, the version predates the record, or the index is too damaged to tell (which
    the build itself reports, and ``--rebuild`` repairs)."""
    try:
        version = store.serving()
        manifest = store.manifest(version) if version else None
    except KBError:
        return None
    return (manifest.content_dir or None) if manifest is not None else None


def check_same_content(store: IndexStore, content_dir: Path, data_hint: str) -> None:
    """Refuse to build ``content_dir`` over an index of another content folder.
    ``data_hint`` names the data folder (or Qdrant alias) in the message."""
    recorded = built_from(store)
    wanted = resolved_folder(content_dir)
    if recorded is None or recorded == wanted:
        return
    raise OtherContentError(
        f"{data_hint} holds the index of {recorded}, not of {wanted}. Give this docs tree "
        "its own data folder (--data DIR or KB_DATA_DIR) to keep both, or pass --replace "
        "to replace that index (its conversation log and feedback stay)."
    )
