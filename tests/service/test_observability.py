"""Observability (issue #13): Prometheus metrics at /metrics, request log lines with their
request id (plain or JSON), and OpenTelemetry traces sent to a real OTLP/HTTP endpoint."""

from __future__ import annotations

import json
import logging
import random
import string
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client.parser import text_string_to_metric_families

from kbcore.runtime import Runtime
from service.app import create_app
from service.logs import configure_logging
from tests.conftest import make_settings
from tests.e2e.conftest import serve

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(http: TestClient) -> Samples:
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture()
def http(tmp_path: Path, content_runtime: Runtime) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, rate_limit_per_minute=600, rate_limit_burst=12)
    with TestClient(create_app(settings, runtime=content_runtime, sync_on_start=False)) as c:
        yield c


def test_metrics_count_requests_answers_stages_and_the_index(http: TestClient) -> None:
    before = scrape(http)
    assert http.get("/v1/search", params={"q": "lora"}).status_code == 200
    assert http.post("/v1/chat", json={"message": "How much does fine-tuning cost?"}).json()[
        "grounded"
    ]
    refused = http.post("/v1/chat", json={"message": "What is the capital of Australia?"})
    assert refused.json()["refusal"]["code"]
    assert http.get("/v1/articles/no-such-article").status_code == 404
    assert http.get("/no/such/route/123").status_code == 404
    after = scrape(http)

    def grew(name: str, by: float = 1, **labels: str) -> bool:
        return value(after, name, **labels) - value(before, name, **labels) == by

    assert grew("kb_http_requests_total", method="GET", route="/v1/search", status="200")
    assert grew("kb_http_requests_total", method="POST", route="/v1/chat", status="200", by=2)
    assert grew(
        "kb_http_requests_total", method="GET", route="/v1/articles/{slug:path}", status="404"
    )
    # Unknown paths share one label: a visitor cannot grow the label set.
    assert grew("kb_http_requests_total", method="GET", route="unmatched", status="404")
    assert not any("/no/such" in str(labels) for _, labels in after)
    assert grew(
        "kb_http_request_duration_seconds_count", method="GET", route="/v1/search", status="200"
    )
    assert grew("kb_answers_total", outcome="grounded", reason="")
    code = refused.json()["refusal"]["code"]
    assert grew("kb_answers_total", outcome="refused", reason=code)
    assert (
        value(after, "kb_embedding_seconds_count")
        >= value(before, "kb_embedding_seconds_count") + 3
    )
    assert (
        value(after, "kb_retrieval_seconds_count")
        >= value(before, "kb_retrieval_seconds_count") + 3
    )
    version = refused.json()["index_version"]
    assert value(after, "kb_index_info", version=version) == 1
    assert value(after, "kb_index_points") > 300


def test_rate_limited_requests_are_counted(http: TestClient) -> None:
    statuses = [http.get("/v1/articles").status_code for _ in range(15)]
    assert statuses.count(429) == 3
    assert value(scrape(http), "kb_rate_limited_total", route="/v1/articles") == 3


def test_reindex_jobs_are_counted_by_result(tmp_path: Path, embedder: object) -> None:
    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text("# Alpha\n\n## One\n\nChunking splits documents.\n")
    settings = make_settings(tmp_path, content_dir=content, canary_file=tmp_path / "none")
    runtime = Runtime.open(settings, scratch=True, embedder=embedder)  # type: ignore[arg-type]
    try:
        with TestClient(create_app(settings, runtime=runtime)) as c:
            state = c.app.state.kb  # type: ignore[attr-defined]
            deadline = time.monotonic() + 120  # the start-up job may not have begun yet
            while not (state.ready or state.startup_error):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert state.jobs().wait_idle(60)
            samples = scrape(c)
    finally:
        runtime.close()
    assert value(samples, "kb_reindex_jobs_total", trigger="startup", result="succeeded") == 1


def test_request_log_lines_carry_the_request_id_as_json(
    http: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json")
    try:
        response = http.get("/v1/search", params={"q": "lora"}, headers={"X-Request-ID": "rq-42"})
        assert response.headers["x-request-id"] == "rq-42"
        generated = http.get("/healthz").headers["x-request-id"]
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    access = [line for line in lines if line["logger"] == "kb.access"]
    search = next(line for line in access if line["path"] == "/v1/search")
    assert search["request_id"] == "rq-42" and search["status"] == 200
    assert search["route"] == "/v1/search" and search["duration_ms"] > 0
    assert any(line["request_id"] == generated for line in access)
    assert all({"time", "level", "message"} <= set(line) for line in lines)


def test_traces_are_exported_to_the_configured_otlp_endpoint(
    tmp_path: Path, content_runtime: Runtime
) -> None:
    received: list[ExportTraceServiceRequest] = []
    collector = FastAPI()

    @collector.post("/v1/traces")
    async def traces(request: Request) -> dict[str, str]:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.body())
        received.append(message)
        return {}

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with serve(collector) as endpoint:
        settings = make_settings(tmp_path, otel_endpoint=endpoint)
        app = create_app(settings, runtime=content_runtime, sync_on_start=False)
        with TestClient(app) as c:
            c.post(
                "/v1/chat",
                json={"message": "How much does fine-tuning cost?"},
                headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
            )
        # Leaving the app's lifespan flushed the batch to the collector.
    spans = [
        span
        for message in received
        for resource in message.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    names = {span.name for span in spans}
    assert {"POST /v1/chat", "kb.embedding", "kb.retrieval"} <= names
    server = next(span for span in spans if span.name == "POST /v1/chat")
    assert server.trace_id.hex() == trace_id  # the caller's trace continues
    assert all(span.trace_id == server.trace_id for span in spans if span.name.startswith("kb."))
    attributes = {a.key: a.value for a in server.attributes}
    assert attributes["http.response.status_code"].int_value == 200
    assert attributes["kb.grounded"].bool_value is True
    resource = received[0].resource_spans[0].resource
    assert any(
        a.key == "service.name" and a.value.string_value == "kb-chat" for a in resource.attributes
    )


def test_invented_methods_and_paths_add_no_metric_series(
    tmp_path: Path, content_runtime: Runtime
) -> None:
    """Over real HTTP: after one unknown request, 2,000 more with random methods and paths
    leave the number of /metrics series unchanged."""
    settings = make_settings(tmp_path, rate_limit_per_minute=100_000, rate_limit_burst=100_000)
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    rng = random.Random(7)

    def invented() -> tuple[str, str]:
        method = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.randint(3, 12)))
        return method, "/" + "/".join(rng.choice(string.ascii_lowercase) for _ in range(6))

    def series(client: httpx.Client) -> int:
        text = client.get("/metrics").text
        return sum(len(f.samples) for f in text_string_to_metric_families(text))

    with serve(app) as base, httpx.Client(base_url=base) as client:
        client.request(*invented())
        client.get("/metrics")
        before = series(client)
        statuses = {client.request(*invented()).status_code for _ in range(2_000)}
        after = series(client)
    assert statuses <= {404, 405}
    assert after == before
