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

    def histogram(self, name: str, description: str, unit: str = "s") -> metrics.Histogram:
        if name not in self.instruments:
            self.instruments[name] = self.meter.create_histogram(name, unit, description)
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
