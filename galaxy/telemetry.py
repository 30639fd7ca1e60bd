"""OpenTelemetry: traces and metrics with the exporters of seeds §15.

Traces: `none` still installs the SDK provider (without an exporter) so that
log lines carry real trace and span ids; `stdout` and `otlp` export.
Metrics: `none`, `stdout`, `otlp`, or `prometheus` (scraped from a listener
of its own, the `edges/metrics` actor). Instruments are created from the
service's own `MeterProvider`, so several service instances (tests) never
share state.

Telemetry never holds the process hostage:
- an OTLP export gives up after `EXPORT_TIMEOUT` (the SDK's retries included);
- the flush at shutdown takes `FLUSH_TIMEOUT` at most, whatever the collector
  does (what is not out by then is dropped);
- what the exporters log about an unreachable collector is rate-limited
  (`galaxy.logging.RateLimitedExporterLogs`: one warning a minute);
- `stdout` exporters print one JSON object a line on stderr: stdout is the
  log stream, JSON log lines only.
"""

from __future__ import annotations

import io
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from galaxy.config import TelemetryConfig
from galaxy.logging import hush_exporter_logs

log = structlog.get_logger("galaxy.telemetry")

_global_tracer_installed = False
EXPORT_TIMEOUT = 5.0  # seconds for one OTLP export, the SDK's retries included
FLUSH_TIMEOUT = 1.0  # seconds for the whole flush at shutdown, traces and metrics together
# The SDK's own shutdowns get most of the flush budget: past it they stop their
# exporters (which ends any retry), and that needs a moment of its own.
_SDK_MILLIS = int(FLUSH_TIMEOUT * 0.8 * 1000)
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass
class Telemetry:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    meter: metrics.Meter
    prometheus_registry: Any | None = None
    instruments: dict[str, Any] = field(default_factory=dict)
    # Whether any reader collects metrics (exporter `none`: none does). Without one,
    # recording a measurement is work for nothing, which the hottest paths skip.
    exports_metrics: bool = True

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

    def tally(self, name: str, description: str, label: str) -> Tally:
        """A counter of one label for a per-request path (see `Tally`)."""
        if name not in self.instruments:
            self.instruments[name] = Tally(self, name, description, label)
        found: Tally = self.instruments[name]
        return found

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

    def shutdown(self) -> bool:
        """Flush and stop both providers within `FLUSH_TIMEOUT`; False if cut short.

        Each provider shuts down in a thread of its own, with most of the budget
        as its SDK timeout (past which it stops its exporter, ending any retry).
        Whatever still runs at the deadline is abandoned (the threads are
        daemons): an unreachable or stalled collector costs the shutdown no more
        than `FLUSH_TIMEOUT`, and the spans and metrics not out by then are lost.
        """
        began = time.monotonic()
        deadline = began + FLUSH_TIMEOUT
        # What the exporters say from here on (an abandoned retry, a batch refused
        # after their stop, perhaps after the process's last line) is debug.
        hush_exporter_logs()
        flushes = {
            "metrics": _daemon(lambda: self.meter_provider.shutdown(timeout_millis=_SDK_MILLIS)),
            "traces": _daemon(self.tracer_provider.shutdown),  # see _BoundedBatchSpanProcessor
        }
        late = []
        for signal, thread in flushes.items():
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                late.append(signal)
        if late:
            log.warning("telemetry.flush_abandoned", signals=late, timeout_s=FLUSH_TIMEOUT)
        log.debug("telemetry.stopped", seconds=round(time.monotonic() - began, 3))
        return not late


def _daemon(work: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=work, name="galaxy-telemetry-flush", daemon=True)
    thread.start()
    return thread


class _BoundedBatchSpanProcessor(BatchSpanProcessor):
    """A `BatchSpanProcessor` whose shutdown keeps within the flush budget.

    `TracerProvider.shutdown` calls `shutdown()` with no timeout, so the SDK
    waits up to 30 s for the last export; its batch processor takes a timeout
    (an internal of the pinned SDK), past which it stops the exporter.
    """

    def shutdown(self) -> None:
        self._batch_processor.shutdown(timeout_millis=_SDK_MILLIS)


class _TelemetryLines(io.TextIOBase):
    """Where the `stdout` exporters print: stderr, whole lines under one lock.

    stdout is the log stream (JSON log lines only), so telemetry goes to
    stderr; the span and metric exporters print from threads of their own, and
    the lock keeps their lines whole.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return sys.stderr.write(text)

    def flush(self) -> None:
        with self._lock:
            sys.stderr.flush()


def _span_line(span: ReadableSpan) -> str:
    return str(span.to_json(indent=None)) + "\n"


def _metrics_line(data: MetricsData) -> str:
    return data.to_json(indent=None) + "\n"


def setup_telemetry(config: TelemetryConfig, *, install_global: bool = True) -> Telemetry:
    global _global_tracer_installed
    resource = Resource.create({"service.name": config.service_name})
    # No exit hooks: `Telemetry.shutdown` (bounded) is the one way they stop.
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    telemetry_lines = _TelemetryLines()
    if config.traces_exporter == "stdout":
        console = ConsoleSpanExporter(out=telemetry_lines, formatter=_span_line)  # type: ignore[arg-type]
        tracer_provider.add_span_processor(_BoundedBatchSpanProcessor(console))
    elif config.traces_exporter == "otlp":
        tracer_provider.add_span_processor(_BoundedBatchSpanProcessor(_otlp_span_exporter(config)))
    if install_global and not _global_tracer_installed:
        trace.set_tracer_provider(tracer_provider)
        _global_tracer_installed = True

    readers: list[MetricReader] = []
    registry = None
    export_millis = EXPORT_TIMEOUT * 1000
    if config.metrics_exporter == "stdout":
        exporter = ConsoleMetricExporter(out=telemetry_lines, formatter=_metrics_line)  # type: ignore[arg-type]
        readers.append(PeriodicExportingMetricReader(exporter, export_timeout_millis=export_millis))
    elif config.metrics_exporter == "otlp":
        readers.append(
            PeriodicExportingMetricReader(
                _otlp_metric_exporter(config), export_timeout_millis=export_millis
            )
        )
    elif config.metrics_exporter == "prometheus":
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry

        # A registry of our own, so each service instance exports only itself.
        registry = CollectorRegistry()
        readers.append(PrometheusMetricReader(registry=registry))
    meter_provider = MeterProvider(
        resource=resource, metric_readers=readers, shutdown_on_exit=False
    )
    return Telemetry(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        meter=meter_provider.get_meter("galaxy"),
        prometheus_registry=registry,
        exports_metrics=bool(readers),
    )


def records_spans(provider: object) -> bool:
    """Whether a span started from `provider` now would reach a span processor.

    With traces exporter `none` the SDK provider has none (unless one is added
    later, as tests do): its spans go nowhere, yet each costs the SDK its
    attributes, ids, clock reads and processor calls. A provider this cannot
    see into (not the SDK's) is taken to record.
    """
    active = getattr(provider, "_active_span_processor", None)
    processors = getattr(active, "_span_processors", None)
    return processors is None or bool(processors)


def unrecorded_span(provider: object, parent: trace.SpanContext | None = None) -> trace.Span:
    """A span nobody records, with fresh ids from `provider`'s generator.

    It stands in for a server span that no processor would see: log lines
    written under it still carry real trace and span ids (galaxy.logging),
    and spans started under it join its trace, sampled as they would be
    under a recorded root. Under a caller's span (`parent`) it is in the
    caller's trace.
    """
    generator = getattr(provider, "id_generator", None) or _ID_GENERATOR
    context = trace.SpanContext(
        trace_id=parent.trace_id if parent is not None else generator.generate_trace_id(),
        span_id=generator.generate_span_id(),
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    return trace.NonRecordingSpan(context)


_ID_GENERATOR = RandomIdGenerator()
_PROPAGATOR = TraceContextTextMapPropagator()  # W3C `traceparent` / `tracestate`
TRACE_HEADERS = frozenset({"traceparent", "tracestate"})


def remote_parent(traceparent: str | None, tracestate: str | None) -> trace.SpanContext | None:
    """The caller's span from its W3C trace context headers (the forwarding hop sends
    them, and a gateway may), or None when there are none or they do not parse."""
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    found = trace.get_current_span(_PROPAGATOR.extract(carrier)).get_span_context()
    return found if found.is_valid else None


def parent_context(parent: trace.SpanContext | None) -> otel_context.Context | None:
    """What `start_span(context=…)` takes to start a span under `parent`."""
    return None if parent is None else trace.set_span_in_context(trace.NonRecordingSpan(parent))


def trace_headers() -> list[tuple[bytes, bytes]]:
    """The current span as W3C trace context headers: a call sent with them continues
    this trace (the forwarding hop)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return [(name.encode(), value.encode()) for name, value in carrier.items()]


def otlp_endpoint(config: TelemetryConfig, signal: str) -> str | None:
    """Where OTLP sends `signal` (`traces`, `metrics`); None: the SDK's default.

    `BACKEND_OTEL_ENDPOINT` is the collector's base URL for both signals, as
    OTEL_EXPORTER_OTLP_ENDPOINT is: gRPC takes it as is, and OTLP/HTTP posts to
    its `/v1/traces` and `/v1/metrics` paths.
    """
    if not config.endpoint:
        return None
    if config.protocol == "grpc":
        return config.endpoint
    return f"{config.endpoint.rstrip('/')}/v1/{signal}"


def _otlp_span_exporter(config: TelemetryConfig) -> Any:
    if config.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return OTLPSpanExporter(endpoint=otlp_endpoint(config, "traces"), timeout=EXPORT_TIMEOUT)


def _otlp_metric_exporter(config: TelemetryConfig) -> Any:
    if config.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
            OTLPMetricExporter,
        )
    return OTLPMetricExporter(endpoint=otlp_endpoint(config, "metrics"), timeout=EXPORT_TIMEOUT)


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


class Tally:
    """A monotonic counter of one label, kept in a dict and read at collection.

    `Counter.add` costs the SDK several microseconds a call (it checks and
    hashes the attributes every time); a per-request counter costs a dict
    update this way, and every collection still reads exact totals. It is
    exported as an observable counter: the same cumulative sum to a reader.
    """

    def __init__(self, telemetry: Telemetry, name: str, description: str, label: str) -> None:
        self._label = label
        # Written only by the event loop's thread; see HttpMetrics.
        self._counts: dict[str, int] = {}
        telemetry.meter.create_observable_counter(
            name, callbacks=[self._observe], unit="1", description=description
        )

    def add(self, value: str) -> None:
        self._counts[value] = self._counts.get(value, 0) + 1

    def _observe(self, _options: CallbackOptions) -> Iterable[Observation]:
        for value, count in list(self._counts.items()):
            yield Observation(count, {self._label: value})


class HttpMetrics:
    """`http_requests_total` and `http_request_duration_seconds` (see above)."""

    def __init__(self, telemetry: Telemetry) -> None:
        # Written only by the event loop's thread; a periodic exporter's thread
        # reads a copy made in one C call (under the GIL), so no lock is needed.
        self._tallies: dict[RequestKey, int] = {}
        self._hot_routes: dict[tuple[str, str], None] = {}
        self._timed = telemetry.exports_metrics  # no reader: no duration is worth recording
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
        if self._timed:
            self._durations.record(elapsed, _request_labels(key))

    def hot_request(self, group: str, method: str, route: str, status: int, elapsed: float) -> None:
        key = (group, method, route, str(status))
        count = self._tallies.get(key, 0) + 1
        self._tallies[key] = count
        if count % HOT_SAMPLE_EVERY == 1 and self._timed:  # the first of every HOT_SAMPLE_EVERY
            self._hot_routes[(group, route)] = None
            self._durations.record(elapsed, _request_labels(key))

    def _observe_tallies(self, _options: CallbackOptions) -> Iterable[Observation]:
        for key, count in list(self._tallies.items()):
            yield Observation(count, _request_labels(key))

    def _observe_sampling(self, _options: CallbackOptions) -> Iterable[Observation]:
        for group, route in list(self._hot_routes):
            yield Observation(1 / HOT_SAMPLE_EVERY, {"group": group, "path": route})
