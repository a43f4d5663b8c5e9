"""Bringing a database's schema up to date with Alembic, on the connection the service
already has, under a lock so replicas (or processes) starting together migrate once.

Embedded, the log and feedback are separate SQLite files, each holding one branch of the
migrations (``log@head``, ``feedback@head``); on a shared database both branches live
together (``heads``). Files written by releases before Alembic carry their schema version
in ``PRAGMA user_version`` (the log) or just their table (feedback): they are stamped with
the matching revision first, so nothing is created twice. A database a newer release
migrated further than this code knows is refused (``NewerSchemaError``), never altered.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)
Branch = Literal["log", "feedback", "heads"]
MIGRATIONS = Path(__file__).parent / "migrations"
LEGACY_LOG_VERSIONS = 3  # PRAGMA user_version of the last hand-written log migration
LOCK_KEY = 0x6B62_6D69  # pg_advisory_xact_lock key: "kbmi"
# Alembic's commands publish their context through module globals (``alembic.context``,
# ``alembic.op``), so two threads may not run one at the same time, even on two
# databases. The one lock of this kind in the code base; it guards Alembic's state.
_ALEMBIC = threading.Lock()


class NewerSchemaError(SQLAlchemyError):
    """The database was written by a newer release (its schema is ahead of this code)."""


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def target(branch: Branch) -> str:
    return "heads" if branch == "heads" else f"{branch}@head"


def wanted_heads(branch: Branch) -> set[str]:
    """The revisions a database holding ``branch`` is at when up to date."""
    script = ScriptDirectory(str(MIGRATIONS))
    heads = set(script.get_heads())
    if branch == "heads":
        return heads
    return {head for head in heads if head.startswith(f"{branch}_")}


def current_heads(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def upgrade(connection: Connection, branch: Branch) -> None:
    """Migrate to the newest revision of ``branch`` in one transaction, holding the
    database's write lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock) so
    a second process waits, then finds nothing left to do."""
    wanted = wanted_heads(branch)
    if current_heads(connection) >= wanted:
        connection.rollback()
        return
    if connection.in_transaction():
        connection.rollback()
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    else:
        connection.exec_driver_sql("SELECT 1")  # begins the transaction: BEGIN IMMEDIATE
    config = _config(connection)
    try:
        with _ALEMBIC:
            _stamp_legacy(connection, config, branch)
            command.upgrade(config, target(branch))
    except CommandError as exc:
        connection.rollback()
        if "Can't locate revision" in str(exc) or "No such revision" in str(exc):
            raise NewerSchemaError(
                f"the database's schema is newer than this release knows ({exc})"
            ) from exc
        raise
    except BaseException:
        connection.rollback()
        raise
    connection.commit()
    log.info(
        "database %s: schema brought up to %s",
        Path(connection.engine.url.database or "").name,
        ", ".join(sorted(wanted)),
    )


def _stamp_legacy(connection: Connection, config: Config, branch: Branch) -> None:
    """Stamp a file written before Alembic with the revision its schema matches."""
    if connection.dialect.name != "sqlite":
        return
    tables = set(sa.inspect(connection).get_table_names())
    if "alembic_version" in tables:
        return
    if branch in ("log", "heads") and "turns" in tables:
        version = int(connection.exec_driver_sql("PRAGMA user_version").scalar_one())
        if version > LEGACY_LOG_VERSIONS:
            raise NewerSchemaError(
                f"schema version {version} is newer than this release knows ({LEGACY_LOG_VERSIONS})"
            )
        if version > 0:
            command.stamp(config, f"log_{version:04d}")
    if branch in ("feedback", "heads") and "feedback" in tables:
        command.stamp(config, "feedback_0001")
