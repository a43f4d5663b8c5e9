"""One database as the service uses it: a SQLAlchemy engine, the schema it holds brought up
to date once, transactions that lock the way each backend needs, and errors told in words
that never carry a row's contents.

SQLite (the embedded default, a file under ``KB_DATA_DIR``): a fresh connection per use
(``NullPool``, so a file deleted or replaced while serving is noticed), WAL so readers run
beside the writer, and transactions begun by ``kb`` itself: ``BEGIN`` to read,
``BEGIN IMMEDIATE`` to write, so two writers queue on the busy timeout instead of failing
when one upgrades its lock. PostgreSQL (``KB_DATABASE_URL``): a small pool whose
connections are tested before use, so a restarted server costs one failed batch at most.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from kbcore.diskspace import explain
from kbcore.private import private_file
from service.database.migrate import Branch, upgrade

Kind = Literal["sqlite", "postgresql"]
WAL_RETRY_S = 0.01  # between tries to switch a new database to WAL
IMMEDIATE = "kb_immediate"  # execution option: this transaction writes


def describe(exc: BaseException, path: Path | None = None) -> str:
    """What went wrong, from the driver's own message: SQLAlchemy's text would add the
    statement and its parameters (a visitor's question) to a log line or a 503."""
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__
    return explain(Exception(text), path) if path is not None else text


def _driver_text(exc: SQLAlchemyError) -> str:
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    return str(original).lower()


def is_corrupt(exc: SQLAlchemyError) -> bool:
    """SQLite says the file is not (or no longer) a database."""
    text = _driver_text(exc)
    return "not a database" in text or "malformed" in text


def is_missing_table(exc: SQLAlchemyError) -> bool:
    """The tables are gone (a file emptied, a schema dropped on the server)."""
    text = _driver_text(exc)
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def dialect_insert(connection: Connection, table: sa.Table) -> Any:
    """``INSERT`` with ``ON CONFLICT`` clauses, in the connection's dialect."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


@dataclass
class Database:
    """An engine, the schema branch it holds, and for SQLite its file."""

    url: str
    branch: Branch
    timeout: float = 5.0
    pool_size: int = 5
    engine: Engine = field(init=False)
    _ready: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.engine = _engine(self.url, self.timeout, self.pool_size)

    @property
    def kind(self) -> Kind:
        return "sqlite" if self.engine.dialect.name == "sqlite" else "postgresql"

    @property
    def path(self) -> Path | None:
        """The SQLite file (None for a server)."""
        database = self.engine.url.database
        return Path(database) if self.kind == "sqlite" and database else None

    @property
    def name(self) -> str:
        """How messages name it: the file's name, or the server and database (no
        password)."""
        if self.path is not None:
            return self.path.name
        url = self.engine.url
        return f"PostgreSQL database {url.database} at {url.host}:{url.port or 5432}"

    def explain(self, exc: BaseException) -> str:
        return describe(exc, self.path)

    def set_aside(self) -> Path:
        """Move a corrupt SQLite file (and its WAL files) out of the way, keeping it as
        ``<name>.corrupt-<time>``; the schema is made again on next use. Returns where it
        went; raises ``OSError`` when it cannot be moved."""
        path = self.path
        if path is None:
            raise ValueError("only a SQLite file can be set aside")
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        path.replace(aside)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        self.forget_schema()
        return aside

    def forget_schema(self) -> None:
        """The file was replaced: check (and create) the schema again on next use."""
        self._ready = False

    def ensure_schema(self) -> None:
        """Bring the schema up to date (once per process, unless forgotten)."""
        if self._ready:
            return
        if self.path is not None:
            private_file(self.path)
        with self.engine.connect() as connection:
            upgrade(connection.execution_options(**{IMMEDIATE: True}), self.branch)
        self._ready = True

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection (schema up to date); reads begin a transaction by themselves."""
        self.ensure_schema()
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (one snapshot for every statement in it)."""
        self.ensure_schema()
        with self.engine.connect() as connection, connection.begin():
            yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed at the end (rolled back on error)."""
        self.ensure_schema()
        with self.engine.connect() as connection:
            connection = connection.execution_options(**{IMMEDIATE: True})
            with connection.begin():
                yield connection

    def size_bytes(self, connection: Connection, *tables: str) -> int:
        """Bytes the rows take: SQLite, the whole file (freed pages are reused, so the
        file stops growing near a cap); PostgreSQL, the live rows of these tables (their
        files keep deleted rows until autovacuum frees the space for reuse, so the files'
        size would not fall after a cap)."""
        if self.kind == "sqlite":
            pages = int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())
            size = int(connection.exec_driver_sql("PRAGMA page_size").scalar_one())
            return pages * size
        total = 0
        for table in tables:
            if not table.isidentifier():
                raise ValueError(f"not a table name: {table!r}")
            total += int(
                connection.exec_driver_sql(
                    f"SELECT COALESCE(SUM(pg_column_size(t.*)), 0) FROM {table} AS t"
                ).scalar_one()
            )
        return total

    def dispose(self) -> None:
        self.engine.dispose()


def _engine(url: str, timeout: float, pool_size: int) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, poolclass=NullPool, connect_args={"timeout": timeout, "check_same_thread": False}
        )
        _sqlite_events(engine, timeout)
        return engine
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_timeout=timeout,
        connect_args={"connect_timeout": max(1, int(timeout)), "application_name": "kb"},
    )


def _sqlite_events(engine: Engine, timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # kb begins transactions itself
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            _use_wal(cursor, timeout)
            cursor.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at checkpoints
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _use_wal(cursor: Any, timeout: float) -> None:
    """Switch a database to WAL (it stays so). The switch needs the database to itself and
    SQLite does not wait for that, so when several connections open a new database at
    once, try again until ``timeout``."""
    deadline = time.monotonic() + timeout
    while cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(WAL_RETRY_S)
