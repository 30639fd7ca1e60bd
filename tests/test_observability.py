"""Logs, traces and metrics as an operator sees them."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
import structlog
from opentelemetry import trace

from galaxy.config import load_config
from galaxy.logging import RateLimitedExporterLogs, email_hash
from galaxy.telemetry import otlp_endpoint, setup_telemetry
from tests.support.contract import ContractClient
from tests.support.logs import captured_logs
from tests.support.mail import eventually
from tests.support.players import SEND, login
from tests.support.service import Running


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    with captured_logs() as captured:
        yield captured.buffer


def test_log_lines_are_json_with_the_minimum_fields(log_stream: io.StringIO) -> None:
    structlog.get_logger("t").info("something.happened", answer=42)
    logging.getLogger("library").warning("from the standard library")
    first, second = (json.loads(line) for line in log_stream.getvalue().splitlines())
    for line in (first, second):
        assert {"ts", "level", "caller", "service", "msg"} <= set(line)
        assert line["service"] == "galaxy-test"
    assert first["msg"] == "something.happened" and first["answer"] == 42
    assert second["msg"] == "from the standard library" and second["level"] == "warning"


def test_lines_inside_a_span_carry_trace_and_span_ids(log_stream: io.StringIO) -> None:
    telemetry = setup_telemetry(load_config({}).telemetry, install_global=False)
    tracer = telemetry.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        structlog.get_logger("t").info("inside")
    line = json.loads(log_stream.getvalue())
    context = span.get_span_context()
    assert line["otel_trace_id"] == format(context.trace_id, "032x")
    assert line["otel_span_id"] == format(context.span_id, "016x")
    assert trace.get_current_span().get_span_context().is_valid is False


EXPORTER = "opentelemetry.exporter.otlp.proto.grpc.exporter"


def test_the_exporters_warn_once_a_minute_with_the_count_held_back() -> None:
    now = [0.0]
    limit = RateLimitedExporterLogs(interval=60, clock=lambda: now[0])

    def said(level: int, name: str = EXPORTER) -> logging.LogRecord:
        record = logging.LogRecord(name, level, __file__, 1, "collector down", None, None)
        limit.filter(record)
        return record

    first = said(logging.ERROR)
    assert (first.levelname, first.suppressed) == ("WARNING", 0)  # type: ignore[attr-defined]
    for seconds in (5, 30, 59):
        now[0] = seconds
        held = said(logging.WARNING)
        assert held.levelname == "DEBUG" and held.rate_limited  # type: ignore[attr-defined]
    assert said(logging.DEBUG).levelname == "DEBUG"  # their own debug lines: unchanged
    assert said(logging.ERROR, "galaxy.other").levelname == "ERROR"  # not an exporter
    # The SDK's pipeline shares the budget ("Queue full, dropping span" with no collector).
    queue_full = said(logging.WARNING, "opentelemetry.sdk._shared_internal")
    assert queue_full.levelname == "DEBUG"
    now[0] = 60
    second = said(logging.ERROR)
    assert (second.levelname, second.suppressed) == ("WARNING", 4)  # type: ignore[attr-defined]
    limit.hushed = True  # the flush at shutdown has begun
    now[0] = 600
    assert said(logging.ERROR).levelname == "DEBUG"


def test_held_back_exporter_lines_show_only_at_debug_level() -> None:
    for level, expected in (("info", 1), ("debug", 3)):
        with captured_logs(level) as logs:
            for _ in range(3):
                logging.getLogger(EXPORTER).error("Failed to export traces")
            lines = logs.lines()
        assert len(lines) == expected
        assert lines[0]["level"] == "warning" and lines[0]["suppressed"] == 0
        assert lines[0]["logger"] == EXPORTER and lines[0]["msg"] == "Failed to export traces"
        assert all(line["level"] == "debug" and line["rate_limited"] for line in lines[1:])


def test_the_otlp_endpoint_is_a_base_url_for_both_signals() -> None:
    def endpoint(protocol: str, signal: str, base: str | None) -> str | None:
        environ = {"BACKEND_OTEL_PROTOCOL": protocol}
        if base is not None:
            environ["BACKEND_OTEL_ENDPOINT"] = base
        return otlp_endpoint(load_config(environ).telemetry, signal)

    assert endpoint("grpc", "traces", "http://collector:4317") == "http://collector:4317"
    http = "http/protobuf"
    assert endpoint(http, "traces", "http://collector:4318/") == "http://collector:4318/v1/traces"
    assert endpoint(http, "metrics", "http://collector:4318") == "http://collector:4318/v1/metrics"
    assert endpoint(http, "traces", None) is None  # the SDK's default (OTEL_EXPORTER_OTLP_*)


def test_email_hash_hides_the_address_and_is_stable() -> None:
    digest = email_hash("Player@Example.org")
    assert "example" not in digest.lower() and "@" not in digest
    assert digest == email_hash(" player@example.org ")
    assert digest != email_hash("other@example.org")


@pytest.mark.parametrize(
    "running", [{"BACKEND_OTEL_METRICS_EXPORTER": "prometheus"}], indirect=True
)
async def test_http_metrics_are_scraped_from_the_prometheus_listener(running: Running) -> None:
    async with httpx.AsyncClient(base_url=running.http) as client:
        await client.get("/healthz")
        await client.get("/api/v1/admin/actors")
    assert running.endpoints.metrics is not None
    async with httpx.AsyncClient() as client:
        scraped = (await client.get(running.endpoints.metrics)).text
    assert "http_requests_total" in scraped
    assert (
        'group="probes"' in scraped and 'path="/healthz"' in scraped and 'status="200"' in scraped
    )
    assert 'group="admin"' in scraped and 'status="401"' in scraped
    assert "http_request_duration_seconds_bucket" in scraped


@pytest.mark.parametrize(
    "running", [{"BACKEND_OTEL_METRICS_EXPORTER": "prometheus"}], indirect=True
)
async def test_hot_routes_are_counted_exactly_and_timed_one_in_sixteen(running: Running) -> None:
    lookup = "/api/v1/internal/sessions/<device_session_id>"
    async with httpx.AsyncClient(base_url=running.http) as client:
        for _ in range(40):
            await client.get(f"/api/v1/internal/sessions/{uuid.uuid4()}")  # 404: unknown
        for _ in range(3):
            await client.get("/api/v1/admin/actors")  # 401: not a hot route
    assert running.endpoints.metrics is not None
    async with httpx.AsyncClient() as client:
        samples = scrape(await client.get(running.endpoints.metrics))
    hot = {"group": "internal", "method": "GET", "path": lookup, "status": "404"}
    assert value(samples, "http_requests_total", hot) == 40  # exact
    assert value(samples, "http_request_duration_seconds_count", hot) == 3  # 1st, 17th, 33rd
    assert value(samples, "http_duration_sample_ratio", {"path": lookup}) == 1 / 16
    cold = {"group": "admin", "method": "GET", "path": "/api/v1/admin/actors", "status": "401"}
    assert value(samples, "http_requests_total", cold) == 3
    assert value(samples, "http_request_duration_seconds_count", cold) == 3  # every one
    # Durations in seconds get buckets that tell a millisecond from a second.
    fast = value(samples, "http_request_duration_seconds_bucket", {**cold, "le": "0.1"})
    assert fast == 3


Sample = tuple[str, dict[str, str], float]


def scrape(response: httpx.Response) -> list[Sample]:
    """A Prometheus text exposition as (name, labels, value) samples."""
    samples = []
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            series, _, number = line.rpartition(" ")
            name, _, labelled = series.partition("{")
            labels = dict(re.findall(r'(\w+)="([^"]*)"', labelled))
            samples.append((name, labels, float(number)))
    return samples


def value(samples: list[Sample], name: str, labels: dict[str, str]) -> float:
    """The one sample named `name` whose labels include `labels`."""
    [found] = [v for n, have, v in samples if n == name and labels.items() <= have.items()]
    return found


async def test_addresses_never_reach_the_logs(
    log_stream: io.StringIO, http: ContractClient, running: Running
) -> None:
    address = "Secret.Person@Example.org"
    await login(http, running, address)  # request, mail delivery, confirm, lookup
    await http.post(SEND, json={"email": address})

    async def sent_and_recorded() -> bool:  # the worker logs a send once it has settled it
        return "mail.sent" in log_stream.getvalue()

    await eventually(sent_and_recorded)
    logged = log_stream.getvalue()
    assert "auth.code_requested" in logged
    assert "secret.person" not in logged.lower()
    assert email_hash(address) in logged
