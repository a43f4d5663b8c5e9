"""Write side of index versions: switch the alias, roll back, prune, clean up failures."""

from __future__ import annotations

import datetime as dt
import logging

from qdrant_client import QdrantClient
from qdrant_client import models as qm

from kbcore.errors import IndexNotFoundError
from kbcore.versions import VersionInfo, list_versions, serving_collection

log = logging.getLogger(__name__)


def switch_alias(client: QdrantClient, alias: str, collection: str) -> None:
    """Point ``alias`` at ``collection`` in one atomic alias operation."""
    operations: list[qm.AliasOperations] = []
    if serving_collection(client, alias) is not None:
        operations.append(qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=alias)))
    operations.append(
        qm.CreateAliasOperation(
            create_alias=qm.CreateAlias(collection_name=collection, alias_name=alias)
        )
    )
    client.update_collection_aliases(change_aliases_operations=operations)


def ready_versions(client: QdrantClient, alias: str) -> list[VersionInfo]:
    """Finished versions, newest first."""
    return [
        v
        for v in list_versions(client, alias)
        if v.manifest is not None and v.manifest.status == "ready"
    ]


def remove_unfinished(
    client: QdrantClient, alias: str, older_than: dt.timedelta | None = None
) -> list[str]:
    """Delete leftovers of builds that died before switching (never the served one).

    With ``older_than`` only builds started that long ago count as dead: on a shared
    Qdrant server another process may be building right now.
    """
    removed = []
    cutoff = dt.datetime.now(dt.UTC) - older_than if older_than is not None else None
    for version in list_versions(client, alias):
        finished = version.manifest is not None and version.manifest.status == "ready"
        if cutoff is not None and version.manifest is not None:
            created = dt.datetime.fromisoformat(
                version.manifest.created_at or "1970-01-01T00:00:00+00:00"
            )
            if created > cutoff:
                continue
        if not finished and not version.serving:
            client.delete_collection(version.collection)
            removed.append(version.collection)
            log.info("removed unfinished index version %s", version.collection)
    return removed


def prune_versions(client: QdrantClient, alias: str, keep: int) -> list[str]:
    """Keep the serving version and the newest others up to ``keep`` in all."""
    versions = ready_versions(client, alias)
    kept = [v for v in versions if v.serving]
    removed = []
    for version in versions:
        if version.serving:
            continue
        if len(kept) < keep:
            kept.append(version)
            continue
        client.delete_collection(version.collection)
        removed.append(version.collection)
    return removed


def rollback(client: QdrantClient, alias: str, to_version: str | None = None) -> VersionInfo:
    """Serve the previous ready version (or ``to_version``) again."""
    versions = ready_versions(client, alias)
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
    switch_alias(client, alias, target.collection)
    return VersionInfo(target.collection, target.version, target.manifest, serving=True)
