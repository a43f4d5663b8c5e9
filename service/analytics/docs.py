"""The served index version as analytics see it: its articles and sections, the nearest
section to a question, and the refusal floor that decides whether "nearest" is near."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from kbcore.answering.support import MIN_DENSE
from kbcore.catalog import ArticleInfo, load_catalog
from kbcore.retrieval import Retriever
from service.analytics.schemas import NearestArticle, SectionRef

SECTION_FIELDS = ["article", "anchor", "heading", "url", "kind"]


@dataclass
class ServedDocs:
    """One index version: what questions are compared with."""

    retriever: Retriever
    version: str
    floor: float
    catalog: dict[str, ArticleInfo]
    _sections: dict[str, list[SectionRef]] | None = field(default=None, repr=False)

    @classmethod
    def load(
        cls,
        retriever: Retriever,
        version: str | None = None,
        catalog: dict[str, ArticleInfo] | None = None,
    ) -> ServedDocs:
        """An index version (default: the one serving now) and its articles."""
        version = version or retriever.resolve()
        manifest = retriever.store.manifest(version)
        floor = manifest.refusal_floor if manifest and manifest.refusal_floor else MIN_DENSE
        if catalog is None:
            catalog = load_catalog(retriever.store, version)
        return cls(retriever, version, float(floor), catalog)

    def sections(self) -> dict[str, list[SectionRef]]:
        """Each article's sections, in index order."""
        if self._sections is None:
            found: dict[str, dict[str, SectionRef]] = {}
            for _, payload in self.retriever.store.scroll(self.version, SECTION_FIELDS):
                if payload.get("kind") == "question":
                    continue
                article, anchor = str(payload.get("article", "")), str(payload.get("anchor", ""))
                found.setdefault(article, {}).setdefault(
                    anchor,
                    SectionRef(
                        anchor=anchor,
                        heading=str(payload.get("heading", "")),
                        url=str(payload.get("url", "")),
                    ),
                )
            self._sections = {slug: list(by_anchor.values()) for slug, by_anchor in found.items()}
        return self._sections

    def nearest(self, text: str, vector: NDArray[np.float32]) -> NearestArticle | None:
        """The section closest in meaning to a question, or None when it is below the
        index's refusal floor (nothing there could answer it)."""
        hits = self.retriever.search(
            text, k=1, mode="dense", version=self.version, query_vector=vector
        ).hits
        if not hits or (hits[0].dense_score or 0.0) < self.floor:
            return None
        hit = hits[0]
        return NearestArticle(
            article=hit.article,
            title=hit.title,
            heading=hit.heading,
            anchor=hit.anchor,
            url=hit.url,
            score=round(float(hit.dense_score or 0.0), 4),
        )

    def best_anchor(self, question: str, article: str) -> str:
        """The section of ``article`` that best matches ``question`` ("" when none)."""
        hits = self.retriever.search(question, k=20, version=self.version).hits
        for hit in hits:
            if hit.article == article:
                return hit.anchor
        sections = self.sections().get(article) or []
        return sections[0].anchor if sections else ""
