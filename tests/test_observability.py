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
from galaxy.logging import email_hash
from galaxy.telemetry import setup_telemetry
from tests.conftest import Running
from tests.support.contract import ContractClient
from tests.support.logs import captured_logs
from tests.support.players import SEND, login


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
    logged = log_stream.getvalue()
    assert "auth.code_requested" in logged and "mail.sent" in logged
    assert "secret.person" not in logged.lower()
    assert email_hash(address) in logged
