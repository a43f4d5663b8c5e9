"""Several replicas on one database (``KB_DATABASE_URL``): they agree on the index.

Each replica runs one background thread that, every ``KB_REPLICA_POLL_S``:

- **beats**: upserts its row in ``replicas`` (host, pid, the index version it serves,
  whether it leads), which ``GET /v1/admin/replicas`` lists;
- **leads or follows** (a shared index, ``KB_QDRANT_URL``): exactly one replica builds
  index versions; it is the one holding a PostgreSQL advisory lock on a connection of
  its own. The others serve whatever the collection alias names (the switch is one
  atomic alias operation) and never build. When the leader dies its session ends, the
  lock is free, and the next replica to poll takes it and brings the index up to date;
- **hears reindex requests**: an admin reindex accepted by any replica is written to
  ``reindex_requests``; every other replica that builds (each one, with an embedded
  index per replica; the leader, with a shared one) runs it too. Requests made before a
  replica started are not replayed: it built from the content at start.

A database that cannot be reached costs a warning per minute and nothing else: answers
never wait for this thread. Embedded (no ``KB_DATABASE_URL``) none of this runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from service.admin.jobs import JobConflictError, ReindexManager, Trigger
from service.database.engine import Database, describe, dialect_insert
from service.database.tables import reindex_requests, replicas

log = logging.getLogger(__name__)
LEADER_LOCK = 0x6B62_6C64  # pg_try_advisory_lock key: "kbld"
KEEP_REQUESTS_S = 7 * 86400.0  # reindex requests older than this are deleted
PRUNE_EVERY_S = 3600.0  # between two deletions of stale heartbeats and requests
WARN_EVERY_S = 60.0


def _take_lock(connection: Connection) -> bool:
    """Try the leader lock on this session (it stays held until the session ends or it
    is released); no transaction is left open."""
    took = bool(
        connection.execute(
            sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK}
        ).scalar_one()
    )
    connection.commit()
    return took


@contextmanager
def leadership(database: Database) -> Iterator[bool]:
    """Hold the leader lock for a one-off build (`kb ingest` as a job beside replicas on a
    shared index); yields False when a replica holds it (that one builds)."""
    if database.kind != "postgresql":
        yield True
        return
    with database.engine.connect() as connection:
        took = _take_lock(connection)
        try:
            yield took
        finally:
            if took:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK})
                connection.commit()


def new_replica_id() -> str:
    """``host-pid-random``: new at every start, so a restarted replica is a new row."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


@dataclass
class ReplicaCoordinator:
    """This replica's heartbeat, leadership and share of broadcast reindexes."""

    database: Database
    jobs: Callable[[], ReindexManager]  # the replica's reindex manager (once it has one)
    served_version: Callable[[], str | None]
    shared_index: bool  # one index for all replicas (a Qdrant server): one leader builds
    poll_s: float = 2.0
    replica_id: str = field(default_factory=new_replica_id)
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    on_leadership: Callable[[bool], None] | None = None  # told when this replica leads
    _leader: Connection | None = field(default=None, init=False)
    _last_request: int = field(default=0, init=False)
    _started_at: str = field(default_factory=_now, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _last_warning: float = field(default=-WARN_EVERY_S, init=False)
    _next_prune: float = field(default=0.0, init=False)  # monotonic time of the next one

    @property
    def leader(self) -> bool:
        """Whether this replica builds the index (always, with an index of its own)."""
        if not self.shared_index or self.database.kind != "postgresql":
            return True  # an index of its own, or one machine's SQLite: nobody to defer to
        with self._lock:
            return self._leader is not None

    def begin(self) -> bool:
        """Before serving: remember where the request log stands, try to lead once, and
        beat. Returns whether this replica builds the index. Never raises."""
        try:
            with self.database.connect() as connection:
                last = connection.execute(sa.select(sa.func.max(reindex_requests.c.id)))
                self._last_request = int(last.scalar_one() or 0)
        except SQLAlchemyError as exc:
            self._warn(f"cannot read reindex requests ({describe(exc)})")
        if self.shared_index:
            self._try_to_lead()
        self._beat()
        return self.leader

    def start(self) -> None:
        """Poll in a background thread until ``stop``."""
        self._thread = threading.Thread(target=self._run, name="replica-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            leader, self._leader = self._leader, None
        if leader is not None:
            leader.close()  # the session ends: the lock is free for another replica
        try:
            with self.database.write() as connection:
                connection.execute(replicas.delete().where(replicas.c.id == self.replica_id))
        except SQLAlchemyError as exc:
            log.warning("replica: could not sign off (%s)", describe(exc))

    def broadcast(self, trigger: str, *, rebuild: bool = False) -> bool:
        """Ask every other replica to reindex (this one already does); False when the
        database refused."""
        try:
            with self.database.write() as connection:
                connection.execute(
                    reindex_requests.insert().values(
                        requested_at=_now(),
                        replica=self.replica_id,
                        trigger=trigger,
                        rebuild=int(rebuild),
                    )
                )
        except SQLAlchemyError as exc:
            log.warning("replica: could not broadcast the reindex (%s)", describe(exc))
            return False
        return True

    def replicas(self, within_s: float | None = None) -> list[dict[str, Any]]:
        """Replicas seen in the last ``within_s`` seconds (default: five polls)."""
        horizon = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=within_s or 5 * self.poll_s)
        with self.database.connect() as connection:
            rows = connection.execute(
                sa.select(replicas)
                .where(replicas.c.seen_at >= horizon.isoformat(timespec="microseconds"))
                .order_by(replicas.c.started_at, replicas.c.id)
            ).mappings()
            return [
                {**row, "leader": bool(row["leader"]), "this": row["id"] == self.replica_id}
                for row in rows
            ]

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.tick()

    def tick(self) -> None:
        """One poll: lead or follow, hear requests, beat."""
        if self.shared_index:
            self._check_leadership()
        self._hear()
        self._beat()

    def _try_to_lead(self) -> None:
        if self.database.kind != "postgresql":
            return
        try:
            connection = self.database.engine.connect()
        except SQLAlchemyError as exc:
            self._warn(f"cannot reach the database to lead ({describe(exc)})")
            return
        try:
            took = _take_lock(connection)
        except SQLAlchemyError as exc:
            connection.close()
            self._warn(f"cannot take the leader lock ({describe(exc)})")
            return
        if not took:
            connection.close()
            return
        with self._lock:
            self._leader = connection
        log.info("replica %s leads: it builds the shared index", self.replica_id)

    def _check_leadership(self) -> None:
        with self._lock:
            leader = self._leader
        if leader is None:
            self._try_to_lead()
            if self.leader:
                self._became(True)
            return
        try:
            leader.exec_driver_sql("SELECT 1").scalar_one()
            leader.commit()
        except SQLAlchemyError as exc:  # the session is gone, and the lock with it
            with self._lock:
                self._leader = None
            leader.invalidate()
            log.warning("replica %s lost the leader lock (%s)", self.replica_id, describe(exc))
            self._became(False)

    def _became(self, leading: bool) -> None:
        if self.on_leadership is not None:
            self.on_leadership(leading)
        if leading:
            self._reindex("leader", rebuild=False)

    def _hear(self) -> None:
        try:
            with self.database.connect() as connection:
                rows = connection.execute(
                    sa.select(reindex_requests)
                    .where(reindex_requests.c.id > self._last_request)
                    .order_by(reindex_requests.c.id)
                ).mappings()
                heard = [dict(row) for row in rows]
        except SQLAlchemyError as exc:
            self._warn(f"cannot read reindex requests ({describe(exc)})")
            return
        for row in heard:
            self._last_request = max(self._last_request, int(row["id"]))
            if row["replica"] != self.replica_id and self.leader:
                log.info("replica: reindex broadcast by %s", row["replica"])
                self._reindex("broadcast", rebuild=bool(row["rebuild"]))

    def _reindex(self, trigger: Trigger, *, rebuild: bool) -> None:
        try:
            manager = self.jobs()
        except Exception as exc:  # not started yet: the start-up build covers it
            log.info("replica: no reindex yet (%s)", exc)
            return
        try:
            manager.start(trigger, rebuild=rebuild)
        except JobConflictError:
            manager.request(trigger)

    def _beat(self) -> None:
        try:
            version = self.served_version()
        except Exception:  # the index may be unreadable: the heartbeat says so
            version = None
        values = {
            "host": self.host,
            "pid": self.pid,
            "started_at": self._started_at,
            "seen_at": _now(),
            "index_version": version,
            "leader": int(self.shared_index and self.leader),
        }
        try:
            with self.database.write() as connection:
                insert = dialect_insert(connection, replicas).values(id=self.replica_id, **values)
                connection.execute(
                    insert.on_conflict_do_update(index_elements=[replicas.c.id], set_=values)
                )
                if time.monotonic() >= self._next_prune:
                    self._next_prune = time.monotonic() + PRUNE_EVERY_S
                    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=KEEP_REQUESTS_S)
                    stale = cutoff.isoformat(timespec="microseconds")
                    connection.execute(replicas.delete().where(replicas.c.seen_at < stale))
                    connection.execute(
                        reindex_requests.delete().where(reindex_requests.c.requested_at < stale)
                    )
        except SQLAlchemyError as exc:
            self._warn(f"cannot write its heartbeat ({describe(exc)})")

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_S:
            self._last_warning = now
            log.warning("replica %s: %s; answers are unaffected", self.replica_id, message)
