"""Embeddings from an OpenAI-compatible API (OpenAI, vLLM, Ollama, llama.cpp, ...).

Built on llama-index's ``OpenAIEmbedding``; any model name is accepted (``model_name=``),
so self-hosted servers work as well as OpenAI's own models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from kbcore.embedding.base import Vectors
from kbcore.embedding.onnx_minilm import TOKENIZER_PATH
from kbcore.errors import EmbedderError


class OpenAICompatibleEmbedder:
    """Calls ``/embeddings`` through llama-index; vectors are L2-normalised here."""

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None,
        base_url: str | None,
        batch_size: int = 64,
        timeout_s: float = 30.0,
        max_retries: int = 2,
    ) -> None:
        from llama_index.embeddings.openai import OpenAIEmbedding

        self._model = model
        self._client: Any = OpenAIEmbedding(
            model_name=model,
            api_key=api_key or "not-needed",
            api_base=base_url,
            embed_batch_size=batch_size,
            timeout=timeout_s,
            max_retries=max_retries,
        )
        # Chunk sizes are measured with the MiniLM WordPiece tokenizer whatever the backend:
        # close enough to any subword tokenizer for a cap, and it needs no download.
        counter = Tokenizer.from_file(str(TOKENIZER_PATH))
        counter.no_padding()
        counter.no_truncation()
        self._counter = counter
        self._dim: int | None = None

    @property
    def model_id(self) -> str:
        return f"openai:{self._model}"

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.embed_query("dimension probe").shape[0])
        return self._dim

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            rows = self._client.get_text_embedding_batch(list(texts))
        except Exception as exc:  # openai raises many transport-specific errors
            raise EmbedderError(f"embeddings API failed: {type(exc).__name__}") from exc
        return _normalised(np.asarray(rows, dtype=np.float32))

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        # OpenAI-compatible embeddings are symmetric: one batch call serves queries too.
        return self.embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        try:
            row = self._client.get_query_embedding(text)
        except Exception as exc:
            raise EmbedderError(f"embeddings API failed: {type(exc).__name__}") from exc
        vector: Vectors = _normalised(np.asarray([row], dtype=np.float32))[0]
        self._dim = int(vector.shape[0])
        return vector


def _normalised(matrix: Vectors) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    out: Vectors = (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
    return out
