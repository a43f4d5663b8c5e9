"""The OpenAI-compatible embeddings backend, against the stub server over real HTTP."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ingest.runner import ingest
from kbcore.embedding.factory import build_embedder
from kbcore.runtime import Runtime
from tests.conftest import make_settings
from tests.ingest.test_build import write
from tests.stubs.openai_stub import running_stub


def test_openai_backend_indexes_and_searches(tmp_path: Path) -> None:
    content = tmp_path / "content"
    write(content, "alpha", first="Chunking splits long documents into passages.")
    with running_stub() as (url, log):
        settings = make_settings(
            tmp_path,
            content_dir=content,
            embed_backend="openai",
            embed_model="stub-embed",
            embed_base_url=url,
            embed_api_key="sk-test",
            llm_max_retries=0,
        )
        embedder = build_embedder(settings)
        assert embedder.model_id == "openai:stub-embed" and embedder.dim == 8
        vectors = embedder.embed_documents(["one text", "another text"])
        assert vectors.shape == (2, 8)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
        runtime = Runtime.open(settings, scratch=True, embedder=embedder)
        report = ingest(runtime)
        assert report.switched and report.embedded == report.chunks
        assert runtime.retriever.search("chunking passages", k=1).hits[0].article == "alpha"
        assert any(r.get("model") == "stub-embed" for r in log.requests)
        runtime.close()
