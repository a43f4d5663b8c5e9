"""State of one running service, held by the app (``app.state.kb``), never in globals."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from cachetools import LRUCache

from ingest.runner import content_source
from kbcore.answering.engine import ChatEngine, build_chat_engine
from kbcore.catalog import ArticleInfo, load_catalog
from kbcore.content_files import ContentFiles
from kbcore.observe import NullObserver, Observer
from kbcore.retrieval import Retriever
from kbcore.runtime import Runtime
from kbcore.settings import Settings
from service.admin.jobs import ReindexManager
from service.analytics.log import ConversationLog
from service.database.provider import Databases
from service.feedback.store import FeedbackStore
from service.llms.cache import LlmsCache
from service.problems import unavailable
from service.replicas import ReplicaCoordinator
from service.site.content import SiteContent

CATALOG_CACHE = 4
log = logging.getLogger(__name__)


@dataclass
class ServiceState:
    """Runtime objects plus readiness and per-version caches."""

    settings: Settings
    runtime: Runtime | None = None
    ready: bool = False
    startup_error: str | None = None
    engine: ChatEngine | None = None
    warmed_version: str | None = None
    _warm_stop: threading.Event = field(default_factory=threading.Event)
    _warm_threads: list[threading.Thread] = field(default_factory=list)
    reindex: ReindexManager | None = None
    observer: Observer = field(default_factory=NullObserver)
    builds_index: bool = True  # this process brings the index up to date (sync on start)
    on_reindexed: Callable[[str, str], None] | None = None  # (trigger, result), for metrics
    # A per-start secret the CLI on this machine reads from the runtime file (loopback only).
    local_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    _retriever: Retriever | None = None
    _catalogs: LRUCache[str, dict[str, ArticleInfo]] = field(
        default_factory=lambda: LRUCache(CATALOG_CACHE)
    )
    _site: SiteContent | None = None
    _feedback: FeedbackStore | None = None
    llms: LlmsCache = field(default_factory=LlmsCache)
    _conversations: ConversationLog | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    databases: Databases = field(init=False)
    replicas: ReplicaCoordinator | None = None  # with KB_DATABASE_URL: the other replicas

    def __post_init__(self) -> None:
        self.databases = Databases(self.settings)

    def require_runtime(self) -> Runtime:
        """The runtime, or a 503 while the service is still starting."""
        if self.runtime is None:
            if self.startup_error:
                raise unavailable(f"the service failed to start: {self.startup_error}", 30)
            raise unavailable("the service is starting; try again shortly", 2, slug="starting")
        return self.runtime

    def jobs(self) -> ReindexManager:
        """The reindex job manager (one per running service)."""
        runtime = self.require_runtime()
        with self._lock:
            if self.reindex is None:
                self.reindex = ReindexManager(
                    runtime, on_switch=self.warm_in_background, on_finish=self.on_reindexed
                )
            return self.reindex

    def retriever(self) -> Retriever:
        """This app's retriever over the runtime's store and embedder: it reports to the
        app's observer and drops hits whose source file was deleted (asking for a
        reindex, which removes them from the index)."""
        runtime = self.require_runtime()
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(
                    store=runtime.store,
                    embedder=runtime.embedder,
                    prefetch_limit=self.settings.prefetch_limit,
                    encoder=runtime.retriever.encoder,
                    observer=self.observer,
                    content=ContentFiles(self.settings.content_dir, self._content_missing),
                )
            return self._retriever

    def _content_missing(self, paths: set[str]) -> None:
        if not self.ready or self.runtime is None or not self.builds_index:
            return  # a replica that does not build the index leaves it to the one that does
        job = self.jobs().request("deleted")
        if job is not None:
            log.info("source files deleted (%s); reindexing", ", ".join(sorted(paths)[:5]))

    def feedback(self) -> FeedbackStore:
        """The feedback store (one per app)."""
        with self._lock:
            if self._feedback is None:
                self._feedback = FeedbackStore(
                    self.databases.get("feedback"),
                    max_rows=self.settings.feedback_max_rows,
                    max_bytes=self.settings.feedback_max_mb * 2**20,
                    retention_days=self.settings.feedback_retention_days,
                )
            return self._feedback

    def warm_in_background(self) -> None:
        """Load the new version's vocabulary without delaying anything else."""

        def warm() -> None:
            try:
                engine = self.chat_engine()
                version = engine.retriever.resolve()
                count = engine.warm(stop=self._warm_stop)
                self.warmed_version = version
                log.info("answer vocabulary loaded (%d chunks)", count)
            except Exception:  # warming is an optimisation; never fail because of it
                log.exception("warming the answer cache failed")

        thread = threading.Thread(target=warm, name="warm-answers", daemon=True)
        with self._lock:
            self._warm_threads = [t for t in self._warm_threads if t.is_alive()] + [thread]
        thread.start()

    def stop_background_work(self, timeout: float = 30) -> None:
        """Stop cache warming (it checks between batches) and wait for it; write the
        conversation log's queued rows and stop its writer."""
        self._warm_stop.set()
        for thread in list(self._warm_threads):
            thread.join(timeout)
        with self._lock:
            conversations, self._conversations = self._conversations, None
        if conversations is not None:
            conversations.close(timeout)
        self.databases.close()

    def conversation_log(self) -> ConversationLog:
        """The conversation log every answering surface records to (one per service)."""
        with self._lock:
            if self._conversations is None:
                self._conversations = ConversationLog(self.settings, self.databases.get("log"))
            return self._conversations

    def chat_engine(self) -> ChatEngine:
        """The chat engine (built on first use, then shared by all requests)."""
        self.require_runtime()
        with self._lock:
            engine = self.engine
        if engine is None:
            engine = build_chat_engine(self.retriever(), self.settings)
            with self._lock:
                self.engine = self.engine or engine
                engine = self.engine
        return engine

    def catalog(self, version: str) -> dict[str, ArticleInfo]:
        """Articles of an index version (cached; versions are immutable)."""
        with self._lock:
            cached = self._catalogs.get(version)
        if cached is not None:
            return cached
        catalog = load_catalog(self.require_runtime().store, version)
        with self._lock:
            self._catalogs[version] = catalog
        return catalog

    def describe_index(self) -> tuple[str, int] | None:
        """The served version and its point count (None before there is one)."""
        if self.runtime is None:
            return None
        version = self.runtime.store.serving()
        if version is None:
            return None
        return version, self.runtime.store.count(version)

    def served_version(self) -> str:
        """The index version serving right now (blocking)."""
        return self.retriever().resolve()

    def served_catalog(self) -> tuple[str, dict[str, ArticleInfo]]:
        """The index version serving right now and its articles (blocking)."""
        version = self.served_version()
        return version, self.catalog(version)

    def site_content(self) -> SiteContent:
        """The content folder as pages (parsed once per file version; shared by the demo
        site and everything that serves an article's Markdown)."""
        source = content_source(self.settings)
        with self._lock:
            if self._site is None or self._site.source != source:
                self._site = SiteContent(source)
            return self._site
