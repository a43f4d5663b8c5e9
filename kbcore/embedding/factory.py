"""The one place that builds the configured embedder."""

from __future__ import annotations

from kbcore.embedding.base import Embedder
from kbcore.embedding.onnx_minilm import OnnxMiniLM
from kbcore.embedding.openai_api import OpenAICompatibleEmbedder
from kbcore.settings import Settings


def build_embedder(settings: Settings) -> Embedder:
    """Return the embedder that ``settings`` selects (ONNX MiniLM unless told otherwise)."""
    if settings.embed_backend == "openai":
        key = settings.embed_api_key or settings.openai_api_key
        return OpenAICompatibleEmbedder(
            model=settings.embed_model,
            api_key=key.get_secret_value() if key else None,
            base_url=settings.embed_base_url or settings.llm_base_url,
            batch_size=settings.embed_batch_size,
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
        )
    return OnnxMiniLM(threads=settings.embed_threads, batch_size=settings.embed_batch_size)
