"""State of one running service, held by the app (``app.state.kb``), never in globals."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from ingest.runner import content_source
from kbcore.answering.engine import ChatEngine, build_chat_engine
from kbcore.catalog import ArticleInfo, load_catalog
from kbcore.runtime import Runtime
from kbcore.settings import Settings
from service.admin.jobs import ReindexManager
from service.analytics.log import ConversationLog
from service.llms.cache import LlmsCache
from service.problems import unavailable
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
    _catalogs: OrderedDict[str, dict[str, ArticleInfo]] = field(default_factory=OrderedDict)
    _site: SiteContent | None = None
    llms: LlmsCache = field(default_factory=LlmsCache)
    _conversations: ConversationLog | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
                self.reindex = ReindexManager(runtime, on_switch=self.warm_in_background)
            return self.reindex

    def warm_in_background(self) -> None:
        """Pre-embed the new version's sentences without delaying anything else."""

        def warm() -> None:
            try:
                engine = self.chat_engine()
                version = engine.retriever.resolve()
                count = engine.warm(stop=self._warm_stop)
                self.warmed_version = version
                log.info("answer cache warmed with %d texts", count)
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

    def conversation_log(self) -> ConversationLog:
        """The conversation log every answering surface records to (one per service)."""
        with self._lock:
            if self._conversations is None:
                self._conversations = ConversationLog(self.settings)
            return self._conversations

    def chat_engine(self) -> ChatEngine:
        """The chat engine (built on first use, then shared by all requests)."""
        runtime = self.require_runtime()
        with self._lock:
            if self.engine is None:
                self.engine = build_chat_engine(runtime.retriever, self.settings)
            return self.engine

    def catalog(self, version: str) -> dict[str, ArticleInfo]:
        """Articles of an index version (cached; versions are immutable)."""
        with self._lock:
            cached = self._catalogs.get(version)
            if cached is not None:
                self._catalogs.move_to_end(version)
                return cached
        catalog = load_catalog(self.require_runtime().store, version)
        with self._lock:
            self._catalogs[version] = catalog
            while len(self._catalogs) > CATALOG_CACHE:
                self._catalogs.popitem(last=False)
        return catalog

    def served_version(self) -> str:
        """The index version serving right now (blocking)."""
        return self.require_runtime().retriever.resolve()

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
