"""Writes log rows off the request path: a bounded queue drained by one background thread.

``submit`` never blocks and never raises: when the queue is full the row is dropped.
The thread writes what it takes in one transaction; when SQLite refuses (locked past a
short busy timeout, read-only, disk full, corrupt) that batch is dropped and counted, and
the next batch tries again with a fresh connection. An answer never waits for its log row.

The same thread prunes turns older than the retention period: when it starts, then about
once an hour.
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

from service.analytics.store import RatingRow, TurnRow, open_connection, prune, write_batch

log = logging.getLogger(__name__)
CAPACITY = 2000
BATCH = 200
BUSY_TIMEOUT_S = 1.0
PRUNE_EVERY_S = 3600.0
WARN_EVERY_S = 60.0
Item = TurnRow | RatingRow


@dataclass
class WriterStats:
    """What happened to the rows handed to the writer."""

    written: int = 0
    dropped: int = 0
    pruned: int = 0


class _Stop:
    """Tells the thread to finish what is queued and exit."""


@dataclass
class LogWriter:
    """One background writer per database file."""

    path: Path
    retention_days: int
    capacity: int = CAPACITY
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    stats: WriterStats = field(default_factory=WriterStats)
    _queue: queue.Queue[Item | _Stop] = field(init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _idle: threading.Condition = field(init=False)
    _pending: int = field(default=0, init=False)
    _closed: bool = field(default=False, init=False)
    _last_warning: float = field(default=-WARN_EVERY_S, init=False)

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

    def _write(
        self, connection: sqlite3.Connection | None, batch: list[Item]
    ) -> sqlite3.Connection | None:
        try:
            if connection is None:
                connection = open_connection(self.path, BUSY_TIMEOUT_S)
            write_batch(connection, batch)
            with self._lock:
                self.stats.written += sum(isinstance(item, TurnRow) for item in batch)
            return connection
        except sqlite3.Error as exc:
            with self._lock:
                self.stats.dropped += len(batch)
            self._warn(f"conversation log: {len(batch)} row(s) lost ({exc})")
            if connection is not None:
                connection.close()
            return None

    def _prune(self, connection: sqlite3.Connection | None) -> sqlite3.Connection | None:
        if connection is None and not self.path.is_file():
            return None  # nothing logged yet: do not create the database to prune it
        cutoff = self.clock() - dt.timedelta(days=self.retention_days)
        try:
            if connection is None:
                connection = open_connection(self.path, BUSY_TIMEOUT_S)
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
