"""Read side of index versions: which collection the alias serves, and its manifest."""

from __future__ import annotations

from dataclasses import dataclass

from qdrant_client import QdrantClient

from kbcore.embedding.base import Embedder
from kbcore.errors import IndexNotFoundError, ModelMismatchError
from kbcore.schema import IndexManifest, version_of


@dataclass(frozen=True)
class VersionInfo:
    """One index version: its collection, version id and manifest."""

    collection: str
    version: str
    manifest: IndexManifest | None
    serving: bool


def serving_collection(client: QdrantClient, alias: str) -> str | None:
    """The collection the alias points at, or ``None`` before the first build."""
    for entry in client.get_aliases().aliases:
        if entry.alias_name == alias:
            return entry.collection_name
    return None


def read_manifest(client: QdrantClient, collection: str) -> IndexManifest | None:
    """The manifest stored in a collection's metadata (``None`` if it has none)."""
    metadata = client.get_collection(collection).config.metadata
    if not metadata:
        return None
    return IndexManifest.model_validate(metadata)


def list_versions(client: QdrantClient, alias: str) -> list[VersionInfo]:
    """Every version collection of ``alias``, newest first."""
    serving = serving_collection(client, alias)
    out = []
    for description in client.get_collections().collections:
        version = version_of(alias, description.name)
        if version is None:
            continue
        out.append(
            VersionInfo(
                collection=description.name,
                version=version,
                manifest=read_manifest(client, description.name),
                serving=description.name == serving,
            )
        )
    return sorted(out, key=lambda v: v.version, reverse=True)


def open_serving(client: QdrantClient, alias: str, embedder: Embedder) -> VersionInfo:
    """The serving version, checked against the configured embedding model."""
    collection = serving_collection(client, alias)
    if collection is None:
        raise IndexNotFoundError(f"no index has been built yet for '{alias}'; run `kb ingest`")
    manifest = read_manifest(client, collection)
    if manifest is None:
        raise IndexNotFoundError(f"collection {collection} has no manifest; rebuild the index")
    check_model(manifest, embedder)
    version = version_of(alias, collection) or collection
    return VersionInfo(collection=collection, version=version, manifest=manifest, serving=True)


def check_model(manifest: IndexManifest, embedder: Embedder) -> None:
    """Refuse to mix vectors of two embedding models."""
    if manifest.embed_model != embedder.model_id or manifest.dim != embedder.dim:
        raise ModelMismatchError(
            f"the index was built with embedding model '{manifest.embed_model}' "
            f"(dimension {manifest.dim}) but '{embedder.model_id}' (dimension "
            f"{embedder.dim}) is configured; rebuild it with `kb ingest --rebuild` "
            "or configure the model that built it"
        )
