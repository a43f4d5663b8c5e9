"""Reindex jobs of a running service: one build at a time, run in a worker thread, with
progress and the diff kept for `GET /v1/admin/reindex/{job}`.

Every trigger goes through here (start-up sync, the admin API, the file watcher), so two
builds never race. Searches keep being served from the current version meanwhile.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from cachetools import LRUCache

from ingest.page_cache import PageCache
from ingest.runner import ingest
from kbcore.errors import KBError
from kbcore.runtime import Runtime

log = logging.getLogger(__name__)
KEEP_JOBS = 50
JobStatus = Literal["running", "succeeded", "failed"]
# broadcast: another replica's admin reindex; leader: this replica took over building the
# shared index.
Trigger = Literal["startup", "api", "watch", "deleted", "cli", "broadcast", "leader"]


class JobConflictError(Exception):
    """A reindex is already running."""

    def __init__(self, running: str) -> None:
        super().__init__(running)
        self.running = running


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class ReindexJob:
    """One reindex run as the admin API reports it."""

    id: str
    trigger: Trigger
    dry_run: bool = False
    rebuild: bool = False
    strict: bool = False
    replace: bool = False  # build over an index of another content folder (`kb serve --replace`)
    status: JobStatus = "running"
    created_at: str = field(default_factory=_now)
    finished_at: str | None = None
    embedded: int = 0
    to_embed: int = 0
    report: dict[str, object] | None = None
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "status": self.status,
            "trigger": self.trigger,
            "options": {"dry_run": self.dry_run, "rebuild": self.rebuild, "strict": self.strict},
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "progress": {"embedded": self.embedded, "to_embed": self.to_embed},
            "report": self.report,
            "error": self.error,
        }


@dataclass
class ReindexManager:
    """Starts reindex jobs and remembers the recent ones."""

    runtime: Runtime
    on_switch: Callable[[], None] | None = None  # called after a new version is served
    on_finish: Callable[[str, str], None] | None = None  # (trigger, status), for metrics
    _jobs: LRUCache[str, ReindexJob] = field(default_factory=lambda: LRUCache(KEEP_JOBS))
    # Pages parsed by earlier jobs: an edit re-parses only what changed.
    _pages: PageCache = field(default_factory=PageCache)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _running: ReindexJob | None = None
    _rerun: bool = False
    _idle: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._idle.set()

    def get(self, job_id: str) -> ReindexJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    @property
    def running(self) -> ReindexJob | None:
        with self._lock:
            return self._running

    def start(
        self,
        trigger: Trigger,
        *,
        dry_run: bool = False,
        rebuild: bool = False,
        strict: bool = False,
        wait: bool = False,
        replace: bool = False,
    ) -> ReindexJob:
        """Run a reindex in a worker thread (or inline with ``wait``); 409 if one runs."""
        job = ReindexJob(
            id=secrets.token_hex(8),
            trigger=trigger,
            dry_run=dry_run,
            rebuild=rebuild,
            strict=strict,
            replace=replace,
        )
        with self._lock:
            if self._running is not None:
                raise JobConflictError(self._running.id)
            self._running = job
            self._idle.clear()
            self._jobs[job.id] = job
        if wait:
            self._run(job)
        else:
            threading.Thread(
                target=self._run, args=(job,), name=f"reindex-{job.id}", daemon=True
            ).start()
        return job

    def request(self, trigger: Trigger) -> ReindexJob | None:
        """Start a job, or if one is running, run once more after it (file watcher)."""
        try:
            return self.start(trigger)
        except JobConflictError:
            with self._lock:
                self._rerun = True
            return None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job runs (tests, shutdown)."""
        return self._idle.wait(timeout)

    def _progress(self, job: ReindexJob) -> object:
        def update(done: int, total: int) -> None:
            job.embedded, job.to_embed = done, total

        return update

    def _run(self, job: ReindexJob) -> None:
        try:
            report = ingest(
                self.runtime,
                progress=self._progress(job),  # type: ignore[arg-type]
                dry_run=job.dry_run,
                rebuild=job.rebuild,
                strict=job.strict,
                replace=job.replace,
                pages=self._pages,
            )
            job.report = report.to_json()
            job.status = "succeeded"
            for skipped in report.skipped:
                log.warning("skipped %s", skipped)
            if self.on_switch is not None and (report.switched or job.trigger == "startup"):
                self.on_switch()
        except KBError as exc:
            job.error = str(exc)
            job.status = "failed"
            log.warning("reindex %s failed: %s", job.id, exc)
        except Exception as exc:  # a job must always finish with a status
            job.error = f"unexpected error: {type(exc).__name__}"
            job.status = "failed"
            log.exception("reindex %s crashed", job.id)
        finally:
            job.finished_at = _now()
            if self.on_finish is not None:
                self.on_finish(job.trigger, job.status)
            with self._lock:
                self._running = None
                rerun, self._rerun = self._rerun, False
                if not rerun:
                    self._idle.set()
            if rerun:
                self._restart_after(job)

    def _restart_after(self, job: ReindexJob) -> None:
        try:
            with self._lock:
                self._idle.set()
            self.start(job.trigger)
        except JobConflictError:
            pass
