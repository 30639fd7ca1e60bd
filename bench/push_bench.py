"""Push stream: publish → gateway client throughput over loopback, and p99 latency."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.process import announced_server
from bench.report import Report, Row
from galaxy.push.client import run_client, subscribe

EVENTS = 50_000
LATENCY_RATE = 1000.0
LATENCY_SECONDS = 5.0


@contextmanager
def server(*args: str) -> Iterator[int]:
    with announced_server("bench.push_servers", *args, key="port") as announced:
        yield int(announced["port"])


def receive_rate(port: int, count: int) -> float:
    async def main() -> float:
        async with subscribe("127.0.0.1", port, "bench") as subscription:
            received = 0
            first = 0.0
            async for _ in subscription:
                received += 1
                if received == 1:
                    first = time.perf_counter()
                if received == count:
                    return (count - 1) / (time.perf_counter() - first)
        raise RuntimeError(f"stream ended after {received} of {count} events")

    return run_client(main())


def latencies(port: int, count: int) -> list[float]:
    async def main() -> list[float]:
        seen: list[float] = []
        async with subscribe("127.0.0.1", port, "bench") as subscription:
            async for event in subscription:
                sent = json.loads(event.client_event.payload)["t"]
                seen.append((time.time_ns() - sent) / 1e6)
                if len(seen) == count:
                    return seen
        return seen

    return run_client(main())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(report: Report) -> None:
    with server("floor", str(EVENTS)) as port:
        floor = receive_rate(port, EVENTS)
    with server("galaxy", str(EVENTS)) as port:
        galaxy = receive_rate(port, EVENTS)
    report.add(Row("push publish → gateway", galaxy, "events/s", "bare grpclib stream", floor))
    # Produced on one instance, received through another on the same database: the
    # cluster's path, against the single instance's figure of this run.
    with (
        announced_server("bench.push_servers", "produce", key="dsn") as producer,
        server("consume", producer["dsn"]) as port,
    ):
        crossed = receive_rate(port, EVENTS)
    report.add(
        Row(
            "push produced on another instance → gateway",
            crossed,
            "events/s",
            "push publish → gateway (one instance)",
            galaxy,
        )
    )
    count = int(LATENCY_RATE * LATENCY_SECONDS)
    with server("latency", str(LATENCY_RATE), str(LATENCY_SECONDS)) as port:
        measured = latencies(port, count)
    p50, p99 = percentile(measured, 0.50), percentile(measured, 0.99)
    report.add(Row("push latency p99 at 1,000 events/s", p99, "ms", "p50 of the same run", p50))
