"""JSON logs on stdout: `ts`, `level`, `caller`, `service`, `msg`, plus per-call context.

Inside a request the context carries `request_id`, and every line written
while a span is current carries `otel_trace_id` and `otel_span_id`, so one
request id correlates HTTP, services, the database and workers. E-mail
addresses never appear verbatim: log `email_hash(address)` instead.

Libraries log through the standard library into the same JSON lines; the
chatty ones are held to warnings, and the OpenTelemetry exporters (which
complain about an unreachable collector on every export and every retry)
to one warning a minute (`RateLimitedExporterLogs`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import sys
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace

_EMAIL_KEY = secrets.token_bytes(32)  # per process: hashes correlate within a run only


def email_hash(address: str) -> str:
    """A per-process HMAC of the normalised address, safe to log."""
    digest = hmac.new(_EMAIL_KEY, address.strip().lower().encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def _add_otel_ids(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["otel_trace_id"] = format(context.trace_id, "032x")
        event["otel_span_id"] = format(context.span_id, "016x")
    return event


def _rename_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["msg"] = event.pop("event", "")
    return event


def _caller(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    module = event.pop("module", None)
    line = event.pop("lineno", None)
    if module is not None:
        event["caller"] = f"{module}:{line}"
    return event


class RateLimitedExporterLogs(logging.Filter):
    """One warning a minute from the OpenTelemetry exporters and SDK; the rest at debug.

    Without a collector they log every failed export and every retry, an
    error every few seconds for as long as the process runs. The first of
    their warnings or errors in an `interval` goes through as a warning, with
    `suppressed`: how many were held back since the one before. The others
    are demoted to debug and marked `rate_limited`, so they show only at
    debug level. Their debug lines pass unchanged. Once the flush at shutdown
    has begun (`hush_exporter_logs`) all of their lines are debug: the
    service's own `telemetry.flush_abandoned` says whether it was cut short.
    """

    # The exporters, and the SDK's own pipeline ("Queue full, dropping span" while a
    # collector is away): one voice, one budget.
    LOGGERS = ("opentelemetry.exporter", "opentelemetry.sdk")

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()  # exporters log from threads of their own
        self._next_at = -math.inf
        self._held = 0
        self.hushed = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self.LOGGERS):
            return True
        with self._lock:
            now = self._clock()
            if now >= self._next_at and not self.hushed:
                self._next_at = now + self.interval
                record.suppressed, self._held = self._held, 0
                record.levelno, record.levelname = logging.WARNING, "WARNING"
                return True
            self._held += 1
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.rate_limited = True
        return logging.getLogger().isEnabledFor(logging.DEBUG)


_exporter_logs: RateLimitedExporterLogs | None = None


def hush_exporter_logs() -> None:
    """The exporters' lines are debug from now on (their flush at shutdown)."""
    if _exporter_logs is not None:
        _exporter_logs.hushed = True


def configure_logging(level: str, service: str, stream: TextIO | None = None) -> None:
    """Route structlog and the standard library's logging to JSON lines on `stream`."""
    out = stream or sys.stdout
    numeric = logging.getLevelName(level.upper())

    def add_service(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event.setdefault("service", service)
        return event

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.CallsiteParameterAdder(
            [
                structlog.processors.CallsiteParameter.MODULE,
                structlog.processors.CallsiteParameter.LINENO,
            ]
        ),
        _caller,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        add_service,
        _add_otel_ids,
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            _rename_event,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                *shared,
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(allow=("suppressed", "rate_limited")),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _rename_event,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    global _exporter_logs
    _exporter_logs = RateLimitedExporterLogs()
    handler.addFilter(_exporter_logs)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # Libraries that narrate routine work at INFO (httpx: every request, so every
    # engine probe) or at DEBUG (httpcore: every step of every request; urllib3:
    # every connection of the OTLP/HTTP exporters): keep them to warnings.
    noisy_libraries = (
        "pgserver",
        "hypercorn.access",
        "mail.log",
        "psycopg.pool",
        "asyncio",
        "httpx",
        "httpcore",
        "urllib3",
    )
    for noisy in noisy_libraries:
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
