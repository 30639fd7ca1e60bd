"""The console's charts: the last hour of this instance, kept in memory.

Per instance and bounded: `History` keeps at most `SLOTS` closed intervals
of `INTERVAL` seconds (one hour), oldest dropped first, and one open interval
that the recording calls add to. Nothing is written to the store and nothing
is shared between instances; a restart starts an empty hour.

Recording sits on hot paths (every HTTP request, every push event), so each
call is an increment or two on objects allocated when the interval opened:
no allocation per call, and no lock. trio runs every task on one thread and
a recording call has no `await`, so no other task sees an interval half
updated. The `console.history` actor (core/history.py) closes the open
interval every `INTERVAL` seconds; closing is where the arithmetic happens.

Latency percentiles come from a fixed-bucket histogram per surface and
interval: bucket bounds grow by a factor of 2^(1/4) from 50 µs to about
90 s (84 buckets and one for anything slower), and a percentile is
interpolated linearly inside its bucket, so it is within 19 % of the true
value (one bucket's width) and usually much closer. A series keeps only
the percentiles, not the buckets.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

INTERVAL = 10  # seconds per point
SLOTS = 360  # points kept per series: one hour at INTERVAL
SURFACES = ("public", "user", "admin", "internal")  # probes and unknown paths are not charted

# Upper bounds (seconds) of the latency buckets; the last bucket is everything above.
_FACTOR = 2**0.25
_FIRST = 0.00005
BOUNDS: tuple[float, ...] = tuple(_FIRST * _FACTOR**n for n in range(84))


def percentile(buckets: Sequence[int], fraction: float) -> float | None:
    """The `fraction` quantile (0..1, seconds) of a histogram over BOUNDS; None when empty.

    Linear inside the bucket holding the quantile's rank, as Prometheus'
    histogram_quantile does; the overflow bucket answers its lower bound."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    for index, count in enumerate(buckets):
        if count and seen + count >= rank:
            if index >= len(BOUNDS):
                return BOUNDS[-1]
            low = BOUNDS[index - 1] if index else 0.0
            high = BOUNDS[index]
            return low + (high - low) * max(rank - seen, 0.0) / count
        seen += count
    return BOUNDS[-1]  # unreachable: the ranks add up to the total


@dataclass(frozen=True)
class Closed:
    """One closed interval, reduced to what the series show."""

    at: int  # epoch seconds at the interval's end
    seconds: float  # how long it was open (rates divide by it)
    requests: tuple[int, ...]  # per surface, in SURFACES order
    p50_ms: tuple[float | None, ...]  # per surface; None: no request
    p99_ms: tuple[float | None, ...]
    turns: int
    turn_mean_ms: float | None
    turn_max_ms: float | None
    push_events: int
    mail_sent: int
    mail_retried: int
    mail_dead: int
    mailbox_total: int
    mailbox_max: int


@dataclass(frozen=True)
class Series:
    name: str
    label: str
    unit: str
    points: tuple[tuple[int, float], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "unit": self.unit,
            "points": [[at, value] for at, value in self.points],
        }


class _Open:
    """The interval being recorded into: plain counters, allocated once per interval."""

    __slots__ = (
        "latency",
        "mail_dead",
        "mail_retried",
        "mail_sent",
        "push_events",
        "turn_max",
        "turn_sum",
        "turns",
    )

    def __init__(self) -> None:
        # One histogram per surface; a request is one increment in one of them.
        self.latency: dict[str, list[int]] = {s: [0] * (len(BOUNDS) + 1) for s in SURFACES}
        self.turns = 0
        self.turn_sum = 0.0
        self.turn_max = 0.0
        self.push_events = 0
        self.mail_sent = 0
        self.mail_retried = 0
        self.mail_dead = 0


class History:
    """The last `slots` intervals of this instance, and the open one."""

    def __init__(self, *, interval: int = INTERVAL, slots: int = SLOTS) -> None:
        self.interval = interval
        self.closed: deque[Closed] = deque(maxlen=slots)
        self._open = _Open()
        self._opened_at: float | None = None  # monotonic; None until the actor starts

    # -- recording (hot paths: an increment, no allocation, no await) ---------------------

    def request(self, surface: str, seconds: float) -> None:
        """One HTTP request of `surface`, answered in `seconds`; other groups are not kept."""
        buckets = self._open.latency.get(surface)
        if buckets is not None:
            buckets[bisect_left(BOUNDS, seconds)] += 1

    def push_event(self) -> None:
        self._open.push_events += 1

    def turn(self, seconds: float) -> None:
        """A game's turn completed (engine call to archive), in `seconds`."""
        current = self._open
        current.turns += 1
        current.turn_sum += seconds
        current.turn_max = max(seconds, current.turn_max)

    def mail_sent(self) -> None:
        self._open.mail_sent += 1

    def mail_retried(self) -> None:
        self._open.mail_retried += 1

    def mail_dead(self) -> None:
        self._open.mail_dead += 1

    # -- closing (the console.history actor) ----------------------------------------------

    def begin(self, now: float) -> None:
        """The actor started (`now` monotonic): the open interval is timed from here.

        What was recorded before (between build and start, or while a crashed
        actor restarted) stays in the open interval."""
        if self._opened_at is None:
            self._opened_at = now

    def close(self, now: float, at: float, mailbox_depths: Iterable[int]) -> Closed:
        """Close the open interval at `now` (monotonic) / `at` (epoch seconds) with the
        mailbox depths sampled now, and open the next."""
        current, self._open = self._open, _Open()
        opened = self._opened_at if self._opened_at is not None else now - self.interval
        self._opened_at = now
        depths = list(mailbox_depths)
        latency = [current.latency[s] for s in SURFACES]
        closed = Closed(
            at=round(at),
            seconds=max(now - opened, 1e-9),
            requests=tuple(sum(buckets) for buckets in latency),
            p50_ms=tuple(_ms(percentile(buckets, 0.50)) for buckets in latency),
            p99_ms=tuple(_ms(percentile(buckets, 0.99)) for buckets in latency),
            turns=current.turns,
            turn_mean_ms=_ms(current.turn_sum / current.turns) if current.turns else None,
            turn_max_ms=_ms(current.turn_max) if current.turns else None,
            push_events=current.push_events,
            mail_sent=current.mail_sent,
            mail_retried=current.mail_retried,
            mail_dead=current.mail_dead,
            mailbox_total=sum(depths),
            mailbox_max=max(depths, default=0),
        )
        self.closed.append(closed)
        return closed

    # -- reading (the console) -----------------------------------------------------------

    def series(self) -> list[Series]:
        """Every series over the closed intervals, oldest point first. Percentiles and
        turn durations have no point for an interval with nothing to measure."""
        kept = list(self.closed)
        found: list[Series] = []
        for index, surface in enumerate(SURFACES):
            found.append(
                _series(
                    "http.rate",
                    surface,
                    "req/s",
                    kept,
                    lambda c, i=index: round(c.requests[i] / c.seconds, 3),
                )
            )
        for name, pick in (("http.latency_p50", "p50_ms"), ("http.latency_p99", "p99_ms")):
            for index, surface in enumerate(SURFACES):
                found.append(
                    _series(name, surface, "ms", kept, lambda c, i=index, p=pick: getattr(c, p)[i])
                )
        found += [
            _series("turn.duration_mean", "", "ms", kept, lambda c: c.turn_mean_ms),
            _series("turn.duration_max", "", "ms", kept, lambda c: c.turn_max_ms),
            _series(
                "push.events", "", "events/s", kept, lambda c: round(c.push_events / c.seconds, 3)
            ),
            _series("mail.sent", "", "mails", kept, lambda c: c.mail_sent),
            _series("mail.retried", "", "mails", kept, lambda c: c.mail_retried),
            _series("mail.dead", "", "mails", kept, lambda c: c.mail_dead),
            _series("mailbox.depth_total", "", "messages", kept, lambda c: c.mailbox_total),
            _series("mailbox.depth_max", "", "messages", kept, lambda c: c.mailbox_max),
        ]
        return found

    def view(self, now: datetime | None = None) -> dict[str, Any]:
        """The body of `GET /api/v1/admin/console/history`."""
        return {
            "interval_seconds": self.interval,
            "now": (now or datetime.now(UTC)).isoformat(),
            "series": [series.to_json() for series in self.series()],
        }


def _ms(seconds: float | None) -> float | None:
    return round(seconds * 1000, 3) if seconds is not None else None


def _series(name: str, label: str, unit: str, kept: Sequence[Closed], value: Any) -> Series:
    points = []
    for closed in kept:
        found = value(closed)
        if found is not None:
            points.append((closed.at, found))
    return Series(name, label, unit, tuple(points))
