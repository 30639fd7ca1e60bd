"""The service's JSON log lines, captured in-process for a test to read.

structlog caches a module's logger on its first use, bound to the stream that
was configured then. So every capture writes to one stream object, `SINK`,
which each capture points at a fresh buffer: a logger first used in an
earlier test still writes into the current test's lines.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO, cast

import structlog

from galaxy.logging import configure_logging


class _Sink(io.TextIOBase):
    def __init__(self) -> None:
        self.target = io.StringIO()

    def write(self, text: str) -> int:
        return self.target.write(text)

    def flush(self) -> None:
        pass


SINK = _Sink()


class CapturedLogs:
    def __init__(self, buffer: io.StringIO) -> None:
        self.buffer = buffer

    def text(self) -> str:
        return self.buffer.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        """Every line so far; each must be one JSON object."""
        return [json.loads(line) for line in self.text().splitlines()]


@contextmanager
def captured_logs(level: str = "debug") -> Iterator[CapturedLogs]:
    SINK.target = buffer = io.StringIO()
    configure_logging(level, "galaxy-test", cast(TextIO, SINK))
    try:
        yield CapturedLogs(buffer)
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
        SINK.target = io.StringIO()  # cached loggers write on into a buffer no one reads
