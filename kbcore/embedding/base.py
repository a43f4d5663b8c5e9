"""The interface every embedding backend offers to the pipeline and the search path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

Vectors = NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors of a fixed dimension."""

    @property
    def model_id(self) -> str:
        """Names the model; recorded in the collection so vectors are never mixed."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Embed passages for indexing; returns an (n, dim) float32 array."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """Embed one search query; returns a (dim,) float32 array."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Embed many search queries at once; returns an (n, dim) float32 array."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text`` (used to size chunks)."""
        ...


@runtime_checkable
class SpanEmbedder(Embedder, Protocol):
    """An embedder that also gives vectors of character spans of each passage from the
    same run of the model (the bundled ONNX model: pooled contextual token vectors)."""

    def embed_documents_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[Vectors, list[Vectors]]:
        """Passage vectors, and for each passage one row per span of ``spans[i]``."""
        ...
