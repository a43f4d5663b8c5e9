"""A Qdrant server that cannot be reached is a clear 503, never a 500 or a hang."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kbcore.errors import StoreUnavailableError
from kbcore.store import open_store
from service.app import create_app
from tests.conftest import make_settings
from tests.stubs.openai_stub import free_port


def test_unreachable_server_is_a_clear_error_and_503s(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, qdrant_url=f"http://127.0.0.1:{free_port()}", qdrant_connect_timeout_s=0
    )
    with pytest.raises(StoreUnavailableError, match="cannot reach Qdrant"):
        open_store(settings)
    with TestClient(create_app(settings)) as http:
        assert http.get("/healthz").status_code == 200
        for response in (
            http.get("/readyz"),
            http.get("/v1/search", params={"q": "rag"}),
            http.post("/v1/chat", json={"message": "what is rag"}),
        ):
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert "retry-after" in response.headers
            assert "cannot reach Qdrant" in response.json()["detail"]
