"""Optional OpenTelemetry traces: with ``KB_OTEL_ENDPOINT`` (or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``) set, every request is a server span (continuing a
caller's ``traceparent``) with child spans for query embedding and retrieval, exported
over OTLP/HTTP in batches. The tracer provider belongs to the app, not the process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer, get_current_span

from kbcore.observe import Stage
from service.metrics import Metrics

SERVICE_NAME = "kb-chat"


@dataclass
class Tracing:
    """The app's tracer and the provider that exports its spans."""

    provider: TracerProvider
    tracer: Tracer

    def shutdown(self) -> None:
        """Export what is pending and stop."""
        self.provider.shutdown()


def build_tracing(endpoint: str | None, name: str = SERVICE_NAME) -> Tracing | None:
    """A tracer exporting to ``endpoint`` (the collector's base URL), or None."""
    if not endpoint:
        return None
    url = endpoint.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url, timeout=5)))
    return Tracing(provider, provider.get_tracer("kb-chat"))


class ServiceObserver:
    """The answer path's observer in the service: metrics, and spans when tracing."""

    def __init__(self, metrics: Metrics, tracing: Tracing | None) -> None:
        self.metrics = metrics
        self.tracing = tracing

    @contextmanager
    def _stage(self, name: Stage) -> Iterator[None]:
        span = (
            self.tracing.tracer.start_as_current_span(f"kb.{name}")
            if self.tracing is not None
            else nullcontext()
        )
        with span, self.metrics.timed(name):
            yield

    def stage(self, name: Stage) -> AbstractContextManager[None]:
        return self._stage(name)

    def tokens(self, prompt: int, completion: int) -> None:
        self.metrics.tokens(prompt, completion)
        span = get_current_span()
        span.set_attribute("gen_ai.usage.input_tokens", prompt)
        span.set_attribute("gen_ai.usage.output_tokens", completion)

    def answered(self, grounded: bool, refusal: str | None) -> None:
        self.metrics.answered(grounded, refusal)
        span = get_current_span()
        span.set_attribute("kb.grounded", grounded)
        if refusal:
            span.set_attribute("kb.refusal", refusal)
