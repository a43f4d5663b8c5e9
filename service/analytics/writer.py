"""Writes log rows off the request path: a bounded queue drained by one background thread.

``submit`` never blocks and never raises: when the queue is full the row is dropped.
The thread writes what it takes in one transaction; when the database refuses (locked
past a short busy timeout, read-only, disk full, corrupt, server down) that batch is
dropped and counted, and the next batch tries again with a fresh connection. ``submit``
hands back a future a caller may wait on, briefly, for its row to be committed (a shared
database: a replica killed after answering then loses no turn).

The same thread prunes turns older than the retention period (when it starts, then about
once an hour) and keeps the log under its row and size caps (``KB_ANALYTICS_MAX_ROWS``,
``KB_ANALYTICS_MAX_MB``), the oldest turns first. A log file deleted while serving is
noticed before the next batch and created afresh; a corrupt one is set aside
(``conversations.sqlite3.corrupt-<time>``) and created afresh; tables dropped from a
database server are made again: rows are lost only while the database refuses them, and
every lost row is counted.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from service.analytics.store import (
    RatingRow,
    TurnRow,
    cap,
    prune,
    write_batch,
)
from service.database.engine import Database, is_corrupt, is_missing_table

log = logging.getLogger(__name__)
CAPACITY = 2000
BATCH = 200
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
    recreated: int = 0  # times the file (or its tables) was gone or corrupt and started afresh


class _Stop:
    """Tells the thread to finish what is queued and exit."""


@dataclass(frozen=True)
class _Queued:
    item: Item
    written: Future[bool]


@dataclass
class LogWriter:
    """One background writer per database."""

    database: Database
    retention_days: int
    capacity: int = CAPACITY
    max_rows: int = 200_000
    max_bytes: int = 500 * 1024 * 1024
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    stats: WriterStats = field(default_factory=WriterStats)
    last_error: str | None = None  # why the last batch was lost; None once one is written
    _queue: queue.Queue[_Queued | _Stop] = field(init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _idle: threading.Condition = field(init=False)
    _pending: int = field(default=0, init=False)
    _closed: bool = field(default=False, init=False)
    _last_warning: float = field(default=-WARN_EVERY_S, init=False)
    _identity: tuple[int, int] | None = field(default=None, init=False)  # (device, inode)
    _since_cap: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._queue = queue.Queue(maxsize=self.capacity)
        self._idle = threading.Condition(self._lock)

    @property
    def path(self) -> Path | None:
        """The SQLite file (None for a database server)."""
        return self.database.path

    def start(self) -> None:
        """Start the thread now (it prunes first), rather than with the first row."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="conversation-log", daemon=True)
            self._thread.start()

    def submit(self, item: Item) -> Future[bool]:
        """Queue a row (never blocks). The future says, once the row's batch is done,
        whether it was written (False at once when the queue is full)."""
        written: Future[bool] = Future()
        with self._lock:
            if self._closed:
                self.stats.dropped += 1
                written.set_result(False)
                return written
            self._start()
            try:
                self._queue.put_nowait(_Queued(item, written))
            except queue.Full:
                self.stats.dropped += 1
                written.set_result(False)
                return written
            self._pending += 1
            return written

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
        next_prune = 0.0  # prune first
        while True:
            if time.monotonic() >= next_prune:
                self._prune()
                next_prune = time.monotonic() + PRUNE_EVERY_S
            try:
                first = self._queue.get(timeout=max(0.05, next_prune - time.monotonic()))
            except queue.Empty:
                continue
            batch: list[_Queued] = []
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
                written = self._write([queued.item for queued in batch])
                for queued in batch:
                    _settle(queued.written, written)
            self._done(len(batch))
            if stop:
                return

    def _check_file(self) -> None:
        """An embedded log deleted or replaced while serving is noticed (its schema is
        made again); one overwritten in place with something that is not SQLite is set
        aside. Nothing to check on a database server."""
        path = self.path
        if path is None:
            return
        if not _looks_like_sqlite(path):
            self._set_aside()  # counted there
        elif self._identity is not None and self._identity != _identity(path):
            with self._lock:
                self.stats.recreated += 1
            log.warning("conversation log: %s was removed; starting a new one", path.name)
            self.database.forget_schema()

    def _write(self, batch: list[Item]) -> bool:
        for attempt in (1, 2):
            try:
                self._check_file()
                with self.database.write() as connection:
                    write_batch(connection, batch)
                self._identity = _identity(self.path) if self.path is not None else None
                with self._lock:
                    self.stats.written += sum(isinstance(item, TurnRow) for item in batch)
                    self.last_error = None
                self._since_cap += len(batch)
                if self._since_cap >= CAP_EVERY:
                    self._since_cap = 0
                    self._cap()
                return True
            except SQLAlchemyError as exc:
                if attempt == 1 and is_missing_table(exc):
                    # the tables were dropped (or the file emptied): make them again
                    with self._lock:
                        self.stats.recreated += 1
                    self.database.forget_schema()
                    continue
                reason = self.database.explain(exc)
                with self._lock:
                    self.stats.dropped += len(batch)
                    self.last_error = f"cannot write {self.database.name}: {reason}"
                self._warn(f"conversation log: {len(batch)} row(s) lost ({reason})")
                if self.path is not None and is_corrupt(exc):
                    self._set_aside()
                return False
        return False

    def _cap(self) -> None:
        try:
            capped = cap(self.database, self.max_rows, self.max_bytes)
        except SQLAlchemyError as exc:
            self._warn(f"conversation log: capping failed ({self.database.explain(exc)})")
            return
        with self._lock:
            self.stats.capped += capped

    def _set_aside(self) -> None:
        """Keep a corrupt log aside and start a new one."""
        try:
            aside = self.database.set_aside()
        except OSError as exc:
            self._warn(f"conversation log: cannot set the corrupt file aside ({exc})")
            return
        with self._lock:
            self.stats.recreated += 1
        self._identity = None
        log.error("conversation log: %s was corrupt; kept as %s", self.database.name, aside.name)

    def _prune(self) -> None:
        if self.path is not None and not self.path.is_file():
            return  # nothing logged yet: do not create the database to prune it
        cutoff = self.clock() - dt.timedelta(days=self.retention_days)
        try:
            self._check_file()
            pruned = prune(self.database, cutoff)
        except SQLAlchemyError as exc:
            self._warn(f"conversation log: pruning failed ({self.database.explain(exc)})")
            return
        with self._lock:
            self.stats.pruned += pruned

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


def _settle(future: Future[bool], written: bool) -> None:
    """Tell whoever waits (a waiter that gave up may have cancelled it)."""
    if future.set_running_or_notify_cancel():
        future.set_result(written)


def _identity(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
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
