"""Embedding backends: the bundled ONNX model (default) and an OpenAI-compatible API."""

from kbcore.embedding.base import Embedder
from kbcore.embedding.factory import build_embedder

__all__ = ["Embedder", "build_embedder"]
