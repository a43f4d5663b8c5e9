"""Read side of index versions over the storage port: which version serves, what each one
recorded, and whether it was built with the configured embedding model."""

from __future__ import annotations

from dataclasses import dataclass

from kbcore.embedding.base import Embedder
from kbcore.errors import IndexNotFoundError, ModelMismatchError
from kbcore.index_store import IndexStore
from kbcore.schema import IndexManifest


@dataclass(frozen=True)
class VersionInfo:
    """One index version: its id, manifest and whether it serves."""

    version: str
    manifest: IndexManifest | None
    serving: bool

    def to_json(self) -> dict[str, object]:
        """As `kb index list --json` and ``GET /v1/admin/index`` list it."""
        m = self.manifest
        return {
            "index_version": self.version,
            "serving": self.serving,
            "status": m.status if m else "unknown",
            "created_at": m.created_at if m else None,
            "articles": m.articles if m else None,
            "chunks": m.chunks if m else None,
            "embed_model": m.embed_model if m else None,
            "refusal_floor": m.refusal_floor if m else None,
        }

    @property
    def ready(self) -> bool:
        return self.manifest is not None and self.manifest.status == "ready"


def list_versions(store: IndexStore) -> list[VersionInfo]:
    """Every version, newest first."""
    serving = store.serving()
    return [
        VersionInfo(version=v, manifest=store.manifest(v), serving=v == serving)
        for v in sorted(store.versions(), reverse=True)
    ]


def open_serving(store: IndexStore, embedder: Embedder) -> VersionInfo:
    """The serving version, checked against the configured embedding model."""
    version = store.serving()
    if version is None:
        raise IndexNotFoundError("no index has been built yet; run `kb ingest`")
    manifest = store.manifest(version)
    if manifest is None:
        raise IndexNotFoundError(f"index version {version} has no manifest; rebuild the index")
    check_model(manifest, embedder)
    return VersionInfo(version=version, manifest=manifest, serving=True)


def check_model(manifest: IndexManifest, embedder: Embedder) -> None:
    """Refuse to mix vectors of two embedding models."""
    if manifest.embed_model != embedder.model_id or manifest.dim != embedder.dim:
        raise ModelMismatchError(
            f"the index was built with embedding model '{manifest.embed_model}' "
            f"(dimension {manifest.dim}) but '{embedder.model_id}' (dimension "
            f"{embedder.dim}) is configured; rebuild it with `kb ingest --rebuild` "
            "or configure the model that built it"
        )
