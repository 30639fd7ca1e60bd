"""OpenTelemetry: traces and metrics with the exporters of seeds §15.

Traces: `none` still installs the SDK provider (without an exporter) so that
log lines carry real trace and span ids; `stdout` and `otlp` export.
Metrics: `none`, `stdout`, `otlp`, or `prometheus` (scraped from a listener
of its own, the `edges/metrics` actor). Instruments are created from the
service's own `MeterProvider`, so several service instances (tests) never
share state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from galaxy.config import TelemetryConfig

_global_tracer_installed = False
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass
class Telemetry:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    meter: metrics.Meter
    prometheus_registry: Any | None = None
    instruments: dict[str, Any] = field(default_factory=dict)

    def counter(
        self, name: str, description: str, unit: str = "1", *, from_zero: bool = False
    ) -> metrics.Counter:
        """The counter `name`; `from_zero` shows it at 0 before anything happens (a rare
        event's counter, so a scrape finds it and an alert can tell "none" from "unknown")."""
        if name not in self.instruments:
            self.instruments[name] = created = self.meter.create_counter(name, unit, description)
            if from_zero:
                created.add(0)
        counter: metrics.Counter = self.instruments[name]
        return counter

    def up_down_counter(self, name: str, description: str) -> metrics.UpDownCounter:
        """A gauge kept by increments (open streams); shown at 0 from the start."""
        if name not in self.instruments:
            created = self.meter.create_up_down_counter(name, description=description)
            created.add(0)
            self.instruments[name] = created
        found: metrics.UpDownCounter = self.instruments[name]
        return found

    @cached_property
    def http(self) -> HttpMetrics:
        """The HTTP edge's request metrics, one set for every listener of this service."""
        return HttpMetrics(self)

    def histogram(self, name: str, description: str, unit: str = "s") -> metrics.Histogram:
        """A histogram; durations (unit `s`) get buckets from 0.5 ms to 10 s (the SDK's
        default buckets are for milliseconds and would put every request in one)."""
        if name not in self.instruments:
            self.instruments[name] = self.meter.create_histogram(
                name,
                unit,
                description,
                explicit_bucket_boundaries_advisory=SECONDS_BUCKETS if unit == "s" else None,
            )
        histogram: metrics.Histogram = self.instruments[name]
        return histogram

    def shutdown(self) -> None:
        self.meter_provider.shutdown()
        self.tracer_provider.shutdown()


def setup_telemetry(config: TelemetryConfig, *, install_global: bool = True) -> Telemetry:
    global _global_tracer_installed
    resource = Resource.create({"service.name": config.service_name})
    tracer_provider = TracerProvider(resource=resource)
    if config.traces_exporter == "stdout":
        tracer_provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif config.traces_exporter == "otlp":
        tracer_provider.add_span_processor(BatchSpanProcessor(_otlp_span_exporter(config)))
    if install_global and not _global_tracer_installed:
        trace.set_tracer_provider(tracer_provider)
        _global_tracer_installed = True

    readers: list[MetricReader] = []
    registry = None
    if config.metrics_exporter == "stdout":
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter()))
    elif config.metrics_exporter == "otlp":
        readers.append(PeriodicExportingMetricReader(_otlp_metric_exporter(config)))
    elif config.metrics_exporter == "prometheus":
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry

        # A registry of our own, so each service instance exports only itself.
        registry = CollectorRegistry()
        readers.append(PrometheusMetricReader(registry=registry))
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    return Telemetry(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        meter=meter_provider.get_meter("galaxy"),
        prometheus_registry=registry,
    )


def _otlp_span_exporter(config: TelemetryConfig) -> Any:
    if config.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return OTLPSpanExporter(endpoint=config.endpoint) if config.endpoint else OTLPSpanExporter()


def _otlp_metric_exporter(config: TelemetryConfig) -> Any:
    if config.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
            OTLPMetricExporter,
        )
    return OTLPMetricExporter(endpoint=config.endpoint) if config.endpoint else OTLPMetricExporter()


def observe_pool(telemetry: Telemetry, db: Any) -> None:
    """`db_pool_acquires_total`, `db_pool_waits_total` and `db_pool_in_use`, read at collection."""
    labels = {"pool": "galaxy"}

    def acquires(_options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(db.stats().acquires_total, labels)

    def waits(_options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(db.stats().waits_total, labels)

    def in_use(_options: CallbackOptions) -> Iterable[Observation]:
        yield Observation(db.stats().in_use, labels)

    meter = telemetry.meter
    meter.create_observable_counter(
        "db_pool_acquires_total", [acquires], description="Units of work run on the pool"
    )
    meter.create_observable_counter(
        "db_pool_waits_total", [waits], description="Connection requests that had to wait"
    )
    meter.create_observable_gauge(
        "db_pool_in_use", [in_use], description="Pooled connections in use now"
    )


# HTTP request metrics, cheap enough for the hottest routes.
#
# `http_requests_total` is an observable counter over tallies kept in a dict:
# a request costs one dict update, and every collection reads exact totals.
# `http_request_duration_seconds` is a histogram; recording in it costs ~7 µs
# (the SDK cleans and hashes the attributes on every call), more than serving
# a probe or a gateway's session lookup from memory. So on those hot routes
# one request in `HOT_SAMPLE_EVERY` is timed into it: quantiles and the mean
# stay unbiased, and rates come from the exact counter. Every other route
# records every request. `http_duration_sample_ratio` says which routes are
# sampled and how, so a dashboard never has to guess.
HOT_SAMPLE_EVERY = 16

RequestKey = tuple[str, str, str, str]  # group, method, route, status


def _request_labels(key: RequestKey) -> dict[str, str]:
    group, method, route, status = key
    return {"group": group, "method": method, "path": route, "status": status}


class HttpMetrics:
    """`http_requests_total` and `http_request_duration_seconds` (see above)."""

    def __init__(self, telemetry: Telemetry) -> None:
        # Written only by the event loop's thread; a periodic exporter's thread
        # reads a copy made in one C call (under the GIL), so no lock is needed.
        self._tallies: dict[RequestKey, int] = {}
        self._hot_routes: dict[tuple[str, str], None] = {}
        self._durations = telemetry.histogram(
            "http_request_duration_seconds", "HTTP request duration"
        )
        telemetry.meter.create_observable_counter(
            "http_requests_total",
            callbacks=[self._observe_tallies],
            unit="1",
            description="HTTP requests by route group, method, route and status",
        )
        telemetry.meter.create_observable_gauge(
            "http_duration_sample_ratio",
            callbacks=[self._observe_sampling],
            unit="1",
            description="Share of requests timed into http_request_duration_seconds, by route",
        )

    def request(self, group: str, method: str, route: str, status: int, elapsed: float) -> None:
        key = (group, method, route, str(status))
        self._tallies[key] = self._tallies.get(key, 0) + 1
        self._durations.record(elapsed, _request_labels(key))

    def hot_request(self, group: str, method: str, route: str, status: int, elapsed: float) -> None:
        key = (group, method, route, str(status))
        count = self._tallies.get(key, 0) + 1
        self._tallies[key] = count
        if count % HOT_SAMPLE_EVERY == 1:  # the first of every HOT_SAMPLE_EVERY
            self._hot_routes[(group, route)] = None
            self._durations.record(elapsed, _request_labels(key))

    def _observe_tallies(self, _options: CallbackOptions) -> Iterable[Observation]:
        for key, count in list(self._tallies.items()):
            yield Observation(count, _request_labels(key))

    def _observe_sampling(self, _options: CallbackOptions) -> Iterable[Observation]:
        for group, route in list(self._hot_routes):
            yield Observation(1 / HOT_SAMPLE_EVERY, {"group": group, "path": route})
