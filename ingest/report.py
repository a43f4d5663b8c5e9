"""What an ingest run found and did: skipped files with every reason, warnings, counts.

``IngestReport.to_json`` is the ``kb ingest --json`` contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, with every reason at once (``line N: ...`` where known)."""

    path: str
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.path}: " + "; ".join(self.reasons)

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class ContentWarning:
    """Something about an indexed file the owner should know (a field ignored, an include
    that could not be resolved, no text left to index)."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "message": self.message}


@dataclass
class IngestReport:
    """What a run did."""

    articles: int = 0
    sections: int = 0
    chunks: int = 0
    embedded: int = 0
    deleted: int = 0
    copied: int = 0
    index_version: str = ""
    previous_version: str | None = None
    switched: bool = False
    dry_run: bool = False
    refusal_floor: float | None = None
    docs_format: str = ""
    docs_format_reason: str = ""  # why that generator was assumed
    files: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[ContentWarning] = field(default_factory=list)
    diff: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "files": self.files,
            "articles": self.articles,
            "sections": self.sections,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "deleted": self.deleted,
            "copied": self.copied,
            "index_version": self.index_version,
            "previous_version": self.previous_version,
            "switched": self.switched,
            "dry_run": self.dry_run,
            "refusal_floor": self.refusal_floor,
            "docs_format": self.docs_format,
            "docs_format_reason": self.docs_format_reason,
            "skipped": [s.to_json() for s in self.skipped],
            "warnings": [w.to_json() for w in self.warnings],
            "diff": self.diff,
            "seconds": round(self.seconds, 3),
        }
