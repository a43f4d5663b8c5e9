"""An HTTP client over the app, sharing the session's index of content/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kbcore.runtime import Runtime
from service.app import create_app
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def client(
    content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings = make_settings(tmp_path_factory.mktemp("svc"))
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with TestClient(app, raise_server_exceptions=False) as http:
        yield http
