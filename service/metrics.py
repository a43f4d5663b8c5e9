"""Prometheus metrics of one app (``prometheus_client``, a registry per app, served at
``GET /metrics``).

| metric | labels | what |
|---|---|---|
| ``kb_http_requests_total`` | method, route, status | requests answered |
| ``kb_http_request_duration_seconds`` | method, route, status | latency histogram |
| ``kb_answers_total`` | outcome (grounded, refused), reason | answers by outcome |
| ``kb_embedding_seconds``, ``kb_retrieval_seconds`` | | time in each stage |
| ``kb_index_info`` | version | 1 for the version being served |
| ``kb_index_points`` | | points in the served version |
| ``kb_builds_index`` | | 1 while this process builds the index (leader among replicas) |
| ``kb_reindex_jobs_total`` | trigger, result | reindex jobs finished |
| ``kb_rate_limited_total`` | route (the limited prefix) | requests refused with 429 |
| ``kb_conversation_log_rows_total`` | outcome (written, dropped, pruned, capped) | log rows |
| ``kb_conversation_log_recreated_total`` | | log files found gone or corrupt, started afresh |

``route`` is the route's template (``/v1/articles/{slug}``), never the raw path, so a
visitor cannot grow the label set; unmatched paths count as ``unmatched``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kbcore.observe import Stage

log = logging.getLogger(__name__)
# The label values a request may carry: anything else a client sends is "other", so no
# visitor can grow the number of series.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class IndexCollector(Collector):
    """The served index version and its size, read when Prometheus scrapes."""

    def __init__(self, describe: Callable[[], tuple[str, int] | None]) -> None:
        self.describe_index = describe

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "kb_index_info", "The index version being served (value 1)", labels=["version"]
        )
        points = GaugeMetricFamily("kb_index_points", "Points in the served index version")
        try:
            current = self.describe_index()
        except Exception as exc:  # a scrape must not fail because the index cannot be read
            log.warning("metrics: cannot describe the index: %s", exc)
            current = None
        if current is not None:
            info.add_metric([current[0]], 1)
            points.add_metric([], current[1])
        yield info
        yield points


class StoreCollector(Collector):
    """What a store of visitors' data (the conversation log, feedback) did with its rows,
    read when Prometheus scrapes: ``kb_<name>_rows_total{outcome}``,
    ``kb_<name>_recreated_total`` and ``kb_<name>_failing`` (1 while its disk refuses
    writes)."""

    def __init__(
        self,
        name: str,
        what: str,
        counts: Callable[[], Mapping[str, int]],
        failing: Callable[[], bool],
    ) -> None:
        self.name, self.what, self.counts, self.failing = name, what, counts, failing

    def collect(self) -> Iterator[Metric]:
        rows = CounterMetricFamily(
            f"kb_{self.name}_rows", f"{self.what} rows by outcome", labels=["outcome"]
        )
        recreated = CounterMetricFamily(
            f"kb_{self.name}_recreated", f"{self.what} files found gone or corrupt, started afresh"
        )
        failing = GaugeMetricFamily(
            f"kb_{self.name}_failing", f"1 while the {self.what} cannot be written"
        )
        counts = self.counts()
        for outcome in ("written", "dropped", "pruned", "capped"):
            rows.add_metric([outcome], counts.get(outcome, 0))
        recreated.add_metric([], counts.get("recreated", 0))
        failing.add_metric([], 1.0 if self.failing() else 0.0)
        yield rows
        yield recreated
        yield failing


@dataclass
class Metrics:
    """The app's metrics (see the module docstring)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "kb_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "kb_http_request_duration_seconds",
            "Time to answer an HTTP request (to the end of the response)",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "kb_answers", "Answers by outcome", ["outcome", "reason"], registry=r
        )
        self.llm_tokens = Counter(
            "kb_llm_tokens",
            "Tokens the language model reported (prompt, completion)",
            ["kind"],
            registry=r,
        )
        self.stages = {
            "embedding": Histogram(
                "kb_embedding_seconds",
                "Time embedding a query",
                buckets=STAGE_BUCKETS,
                registry=r,
            ),
            "retrieval": Histogram(
                "kb_retrieval_seconds",
                "Time retrieving candidates from the index",
                buckets=STAGE_BUCKETS,
                registry=r,
            ),
        }
        self.reindex_jobs = Counter(
            "kb_reindex_jobs", "Reindex jobs finished", ["trigger", "result"], registry=r
        )
        self.rate_limited = Counter(
            "kb_rate_limited", "Requests refused by the rate limit", ["route"], registry=r
        )

    def watch_store(
        self,
        name: str,
        what: str,
        counts: Callable[[], Mapping[str, int]],
        failing: Callable[[], bool],
    ) -> None:
        """Report a store's row counts and health at every scrape."""
        self.registry.register(StoreCollector(name, what, counts, failing))

    def watch_index(self, describe: Callable[[], tuple[str, int] | None]) -> None:
        """Report the served version and its point count at every scrape."""
        self.registry.register(IndexCollector(describe))

    def watch_builds(self, builds: Callable[[], bool]) -> None:
        """``kb_builds_index``: 1 while this process builds the index (always, with an
        index of its own; the leader only, among replicas sharing one)."""
        gauge = Gauge(
            "kb_builds_index",
            "1 while this process builds the index (the leader among replicas sharing one)",
            registry=self.registry,
        )
        gauge.set_function(lambda: float(builds()))

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        known = method if method in HTTP_METHODS else "other"
        labels = (known, route, str(status) if 100 <= status <= 599 else "other")
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def tokens(self, prompt: int, completion: int) -> None:
        self.llm_tokens.labels("prompt").inc(prompt)
        self.llm_tokens.labels("completion").inc(completion)

    def answered(self, grounded: bool, refusal: str | None) -> None:
        if grounded:
            self.answers.labels("grounded", "").inc()
        else:
            self.answers.labels("refused", refusal or "unknown").inc()

    @contextmanager
    def timed(self, name: Stage) -> Iterator[None]:
        with self.stages[name].time():
            yield

    def stage(self, name: Stage) -> AbstractContextManager[None]:
        return self.timed(name)

    def reindexed(self, trigger: str, result: str) -> None:
        self.reindex_jobs.labels(trigger, result).inc()

    def limited(self, prefix: str) -> None:
        self.rate_limited.labels(prefix).inc()
