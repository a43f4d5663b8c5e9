"""Writes log rows off the request path: a bounded queue drained by one background thread.

``submit`` never blocks and never raises: when the queue is full the row is dropped.
The thread writes what it takes in one transaction; when SQLite refuses (locked past a
short busy timeout, read-only, disk full, corrupt) that batch is dropped and counted, and
the next batch tries again with a fresh connection. An answer never waits for its log row.

The same thread prunes turns older than the retention period (when it starts, then about
once an hour) and keeps the log under its row and size caps (``KB_ANALYTICS_MAX_ROWS``,
``KB_ANALYTICS_MAX_MB``), the oldest turns first. A log file deleted while serving is
noticed before the next batch and created afresh; a corrupt one is set aside
(``conversations.sqlite3.corrupt-<time>``) and created afresh: rows are lost only while
the disk refuses them, and every lost row is counted.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kbcore.diskspace import explain
from service.analytics.store import (
    RatingRow,
    TurnRow,
    cap,
    open_connection,
    prune,
    write_batch,
)

log = logging.getLogger(__name__)
CAPACITY = 2000
BATCH = 200
BUSY_TIMEOUT_S = 1.0
PRUNE_EVERY_S = 3600.0
WARN_EVERY_S = 60.0
CAP_EVERY = 500  # rows written between two checks of the caps
Item = TurnRow | RatingRow


@dataclass
class WriterStats:
    """What happened to the rows handed to the writer."""

    written: int = 0
    dropped: int = 0
    pruned: int = 0  # older than the retention period
    capped: int = 0  # over the row or size cap
    recreated: int = 0  # times the file was gone or corrupt and started afresh


class _Stop:
    """Tells the thread to finish what is queued and exit."""


@dataclass
class LogWriter:
    """One background writer per database file."""

    path: Path
    retention_days: int
    capacity: int = CAPACITY
    max_rows: int = 200_000
    max_bytes: int = 500 * 1024 * 1024
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    stats: WriterStats = field(default_factory=WriterStats)
    last_error: str | None = None  # why the last batch was lost; None once one is written
    _queue: queue.Queue[Item | _Stop] = field(init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _idle: threading.Condition = field(init=False)
    _pending: int = field(default=0, init=False)
    _closed: bool = field(default=False, init=False)
    _last_warning: float = field(default=-WARN_EVERY_S, init=False)
    _identity: tuple[int, int] | None = field(default=None, init=False)  # (device, inode)
    _wal: tuple[int, int] | None = field(default=None, init=False)  # of the -wal file
    _since_cap: int = field(default=0, init=False)

    @property
    def _wal_path(self) -> Path:
        return Path(f"{self.path}-wal")

    def __post_init__(self) -> None:
        self._queue = queue.Queue(maxsize=self.capacity)
        self._idle = threading.Condition(self._lock)

    def start(self) -> None:
        """Start the thread now (it prunes first), rather than with the first row."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="conversation-log", daemon=True)
            self._thread.start()

    def submit(self, item: Item) -> bool:
        """Queue a row (never blocks); False when it was dropped."""
        with self._lock:
            if self._closed:
                self.stats.dropped += 1
                return False
            self._start()
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                self.stats.dropped += 1
                return False
            self._pending += 1
            return True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued row is written or dropped; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (for up to ``timeout``), then stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        try:
            self._queue.put(_Stop(), timeout=timeout)
        except queue.Full:
            return
        thread.join(timeout)

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        next_prune = 0.0  # prune first
        try:
            while True:
                if time.monotonic() >= next_prune:
                    connection = self._prune(connection)
                    next_prune = time.monotonic() + PRUNE_EVERY_S
                try:
                    first = self._queue.get(timeout=max(0.05, next_prune - time.monotonic()))
                except queue.Empty:
                    continue
                batch: list[Item] = []
                stop = isinstance(first, _Stop)
                if not isinstance(first, _Stop):
                    batch.append(first)
                while not stop and len(batch) < BATCH:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(more, _Stop):
                        stop = True
                    else:
                        batch.append(more)
                if batch:
                    connection = self._write(connection, batch)
                self._done(len(batch))
                if stop:
                    return
        finally:
            if connection is not None:
                connection.close()

    def _open(self, connection: sqlite3.Connection | None) -> sqlite3.Connection:
        """The connection, reopened when the file it writes to was deleted or replaced,
        or its WAL file was deleted (a connection to a deleted file writes into nothing);
        a file overwritten in place with something that is not SQLite is set aside."""
        moved = connection is not None and (
            self._identity != _identity(self.path) or self._wal != _identity(self._wal_path)
        )
        damaged = not _looks_like_sqlite(self.path)
        if connection is not None and (moved or damaged):
            connection.close()
            connection = None
        if damaged:
            self._set_aside()  # counted there
        elif moved:
            if self._identity == _identity(self.path):  # only the WAL went: its index is stale
                Path(f"{self.path}-shm").unlink(missing_ok=True)
            with self._lock:
                self.stats.recreated += 1
            log.warning("conversation log: %s was removed; starting a new one", self.path.name)
        if connection is None:
            connection = open_connection(self.path, BUSY_TIMEOUT_S)
            self._identity = _identity(self.path)
        return connection

    def _write(
        self, connection: sqlite3.Connection | None, batch: list[Item]
    ) -> sqlite3.Connection | None:
        try:
            connection = self._open(connection)
            write_batch(connection, batch)
            self._wal = _identity(self._wal_path)
            with self._lock:
                self.stats.written += sum(isinstance(item, TurnRow) for item in batch)
                self.last_error = None
            self._since_cap += len(batch)
            if self._since_cap >= CAP_EVERY:
                self._since_cap = 0
                capped = cap(connection, self.max_rows, self.max_bytes)
                with self._lock:
                    self.stats.capped += capped
            return connection
        except sqlite3.Error as exc:
            with self._lock:
                self.stats.dropped += len(batch)
                self.last_error = f"cannot write {self.path.name}: {explain(exc, self.path)}"
            self._warn(f"conversation log: {len(batch)} row(s) lost ({explain(exc, self.path)})")
            if connection is not None:
                connection.close()
            if isinstance(exc, sqlite3.DatabaseError) and _corrupt(exc):
                self._set_aside()
            return None

    def _set_aside(self) -> None:
        """Move a corrupt log (and its WAL files) out of the way, keeping it."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            self.path.replace(aside)
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        except OSError as exc:
            self._warn(f"conversation log: cannot set the corrupt file aside ({exc})")
            return
        with self._lock:
            self.stats.recreated += 1
        log.error("conversation log: %s was corrupt; kept as %s", self.path.name, aside.name)

    def _prune(self, connection: sqlite3.Connection | None) -> sqlite3.Connection | None:
        if connection is None and not self.path.is_file():
            return None  # nothing logged yet: do not create the database to prune it
        cutoff = self.clock() - dt.timedelta(days=self.retention_days)
        try:
            connection = self._open(connection)
            pruned = prune(connection, cutoff)
            with self._lock:
                self.stats.pruned += pruned
            return connection
        except sqlite3.Error as exc:
            self._warn(f"conversation log: pruning failed ({exc})")
            if connection is not None:
                connection.close()
            return None

    def _done(self, count: int) -> None:
        with self._idle:
            self._pending -= count
            if self._pending <= 0:
                self._pending = 0
                self._idle.notify_all()

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_S:
            self._last_warning = now
            log.warning("%s; answers are unaffected", message)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


SQLITE_HEADER = b"SQLite format 3\x00"


def _looks_like_sqlite(path: Path) -> bool:
    """False only for a file that exists, has bytes, and does not start as SQLite does
    (checked before each batch: a connection would not notice it until too late)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError:
        return True  # missing: SQLite creates it
    return not head or head == SQLITE_HEADER


def _corrupt(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text
