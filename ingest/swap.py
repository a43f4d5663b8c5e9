"""Write side of index versions over the storage port: roll back, prune, clean up builds
that died (switching itself is the port's ``switch``, atomic on every adapter)."""

from __future__ import annotations

import datetime as dt
import logging

from kbcore.errors import IndexNotFoundError
from kbcore.index_store import IndexStore
from kbcore.versions import VersionInfo, list_versions

log = logging.getLogger(__name__)


def ready_versions(store: IndexStore) -> list[VersionInfo]:
    """Finished versions, newest first."""
    return [v for v in list_versions(store) if v.ready]


def remove_unfinished(store: IndexStore, older_than: dt.timedelta | None = None) -> list[str]:
    """Delete leftovers of builds that died before switching (never the served one).

    With ``older_than`` only builds started that long ago count as dead: on a shared
    Qdrant server another process may be building right now.
    """
    removed = []
    cutoff = dt.datetime.now(dt.UTC) - older_than if older_than is not None else None
    for version in list_versions(store):
        if version.ready or version.serving:
            continue
        if cutoff is not None and version.manifest is not None:
            created = dt.datetime.fromisoformat(
                version.manifest.created_at or "1970-01-01T00:00:00+00:00"
            )
            if created > cutoff:
                continue
        store.drop(version.version)
        removed.append(version.version)
        log.info("removed unfinished index version %s", version.version)
    return removed


def prune_versions(store: IndexStore, keep: int) -> list[str]:
    """Keep the serving version and the newest others up to ``keep`` in all."""
    kept = 1
    removed = []
    for version in ready_versions(store):
        if version.serving:
            continue
        if kept < keep:
            kept += 1
            continue
        store.drop(version.version)
        removed.append(version.version)
    return removed


def rollback(store: IndexStore, to_version: str | None = None) -> VersionInfo:
    """Serve the previous ready version (or ``to_version``) again."""
    versions = ready_versions(store)
    serving = next((v for v in versions if v.serving), None)
    if to_version is not None:
        target = next((v for v in versions if v.version == to_version), None)
        if target is None:
            raise IndexNotFoundError(f"no ready index version '{to_version}'")
    else:
        older = [
            v
            for v in versions
            if not v.serving and (serving is None or v.version < serving.version)
        ]
        if not older:
            raise IndexNotFoundError("there is no previous index version to roll back to")
        target = older[0]
    store.switch(target.version)
    return VersionInfo(target.version, target.manifest, serving=True)
