"""An HTTP client over the app, sharing the session's index of content/; the storage
backends the same tests run on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kbcore.runtime import Runtime
from kbcore.settings import Settings
from service.app import create_app
from service.database.engine import Database
from service.database.provider import Databases
from tests.conftest import make_settings


@pytest.fixture(scope="module")
def client(
    content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    settings = make_settings(tmp_path_factory.mktemp("svc"))
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with TestClient(app, raise_server_exceptions=False) as http:
        yield http


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings overrides that put what visitors and the owner write on each backend:
    SQLite files in the data folder, or a fresh database on the session's real
    PostgreSQL server (the same test runs on both)."""
    if request.param == "sqlite":
        return {}
    url: str = request.getfixturevalue("database_url")
    return {"database_url": url}


def log_database(settings: Settings) -> Database:
    """The database the service's conversation log uses under ``settings``."""
    return Databases(settings).get("log")


def sqlite_log(path: Path) -> Database:
    return Database(f"sqlite+pysqlite:///{path}", "log")


def count_turns(database: Database, where: str = "1 = 1") -> int:
    with database.connect() as connection:
        return int(
            connection.execute(sa.text(f"SELECT COUNT(*) FROM turns WHERE {where}")).scalar_one()
        )
