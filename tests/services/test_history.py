"""The console's history buffers: intervals roll, an hour is the bound, percentiles hold."""

from __future__ import annotations

import itertools

import pytest

from galaxy.services.history import BOUNDS, SLOTS, SURFACES, History, percentile

ALL_NAMES = [
    "http.rate",
    "http.latency_p50",
    "http.latency_p99",
    "turn.duration_mean",
    "turn.duration_max",
    "push.events",
    "mail.sent",
    "mail.retried",
    "mail.dead",
    "mailbox.depth_total",
    "mailbox.depth_max",
]


def points(history: History, name: str, label: str = "") -> list[tuple[int, float]]:
    (found,) = [s for s in history.series() if s.name == name and s.label == label]
    return list(found.points)


def test_an_interval_collects_what_was_recorded_and_the_next_starts_empty() -> None:
    history = History()
    history.begin(100.0)
    for _ in range(30):
        history.request("user", 0.002)
    history.request("admin", 0.010)
    history.request("probes", 0.001)  # not charted
    history.request("other", 0.001)
    for _ in range(5):
        history.push_event()
    history.turn(0.200)
    history.turn(0.600)
    history.mail_sent()
    history.mail_sent()
    history.mail_retried()
    history.mail_dead()
    closed = history.close(110.0, 1_700_000_010.4, [0, 3, 1])

    assert closed.at == 1_700_000_010
    assert closed.seconds == 10.0
    assert dict(zip(SURFACES, closed.requests, strict=True)) == {
        "public": 0,
        "user": 30,
        "admin": 1,
        "internal": 0,
    }
    assert (closed.turns, closed.turn_mean_ms, closed.turn_max_ms) == (2, 400.0, 600.0)
    assert (closed.mail_sent, closed.mail_retried, closed.mail_dead) == (2, 1, 1)
    assert (closed.mailbox_total, closed.mailbox_max) == (4, 3)
    assert points(history, "http.rate", "user") == [(1_700_000_010, 3.0)]
    assert points(history, "http.rate", "public") == [(1_700_000_010, 0.0)]
    assert points(history, "push.events") == [(1_700_000_010, 0.5)]
    assert points(history, "turn.duration_max") == [(1_700_000_010, 600.0)]

    # The next interval is timed from the close and holds nothing of the first.
    history.request("user", 0.002)
    second = history.close(115.0, 1_700_000_015.0, [])
    assert second.seconds == 5.0
    assert second.requests == (0, 1, 0, 0)
    assert (second.turns, second.push_events, second.mail_sent) == (0, 0, 0)
    assert (second.mailbox_total, second.mailbox_max) == (0, 0)
    assert points(history, "http.rate", "user")[-1] == (1_700_000_015, 0.2)
    # Nothing to measure: no point, rather than a made-up zero.
    assert points(history, "turn.duration_mean") == [(1_700_000_010, 400.0)]
    assert len(points(history, "http.latency_p50", "admin")) == 1
    assert len(points(history, "mail.sent")) == 2


def test_what_was_recorded_before_the_actor_began_is_kept_in_the_first_interval() -> None:
    history = History()
    history.push_event()  # services built, actor not started yet
    history.begin(50.0)
    history.begin(60.0)  # a restarted actor does not reset the open interval's start
    assert history.close(70.0, 1000.0, []).push_events == 1
    assert history.closed[-1].seconds == 20.0


def test_an_hour_is_the_bound_and_the_oldest_intervals_go_first() -> None:
    history = History()
    history.begin(0.0)
    for n in range(1, SLOTS + 41):
        history.request("public", 0.001)
        history.close(n * 10.0, 1_000_000.0 + n * 10, [n])
    assert len(history.closed) == SLOTS
    for series in history.series():
        if series.name.startswith("turn.") or (
            series.name.startswith("http.latency") and series.label != "public"
        ):
            assert series.points == ()  # nothing to measure
            continue
        assert len(series.points) == SLOTS, series.name
    depth = points(history, "mailbox.depth_max")
    assert depth[0] == (1_000_000 + 41 * 10, 41)  # 1..40 dropped
    assert depth[-1] == (1_000_000 + (SLOTS + 40) * 10, SLOTS + 40)


def test_percentiles_are_within_one_bucket_of_the_exact_value() -> None:
    history = History()
    history.begin(0.0)
    latencies = [n / 1000 for n in range(1, 1001)]  # 1 ms .. 1000 ms, evenly
    for seconds in latencies:
        history.request("internal", seconds)
    closed = history.close(10.0, 10.0, [])
    p50, p99 = closed.p50_ms[3], closed.p99_ms[3]
    assert p50 is not None and p99 is not None
    assert abs(p50 - 500) / 500 < 0.19
    assert abs(p99 - 990) / 990 < 0.19
    assert p50 < p99


def test_a_percentile_of_one_bucket_stays_inside_it() -> None:
    buckets = [0] * (len(BOUNDS) + 1)
    index = 40
    buckets[index] = 10
    for fraction in (0.01, 0.5, 0.99):
        found = percentile(buckets, fraction)
        assert found is not None
        assert BOUNDS[index - 1] <= found <= BOUNDS[index]
    assert percentile([0] * (len(BOUNDS) + 1), 0.5) is None


def test_what_is_slower_than_the_last_bound_answers_the_last_bound() -> None:
    history = History()
    history.begin(0.0)
    history.request("admin", 500.0)
    closed = history.close(10.0, 10.0, [])
    assert closed.p99_ms[2] == pytest.approx(BOUNDS[-1] * 1000, rel=1e-3)
    assert BOUNDS[-1] > 60  # a minute-long request is still measured, not clipped


def test_bucket_bounds_grow_by_a_fixed_factor_from_50_microseconds() -> None:
    assert BOUNDS[0] == pytest.approx(0.00005)
    ratios = {round(high / low, 9) for low, high in itertools.pairwise(BOUNDS)}
    assert ratios == {round(2**0.25, 9)}


def test_the_view_names_every_series_with_its_unit() -> None:
    history = History()
    history.begin(0.0)
    history.close(10.0, 10.0, [2])
    view = history.view()
    assert view["interval_seconds"] == 10
    names = [s["name"] for s in view["series"]]
    assert sorted(set(names)) == sorted(ALL_NAMES)
    units = {(s["name"], s["label"]): s["unit"] for s in view["series"]}
    assert {units[("http.rate", s)] for s in SURFACES} == {"req/s"}
    assert units[("http.latency_p99", "admin")] == "ms"
    assert units[("push.events", "")] == "events/s"
    assert units[("mail.dead", "")] == "mails"
    assert units[("mailbox.depth_total", "")] == "messages"
    assert len(view["series"]) == 3 * len(SURFACES) + 8
    (depth,) = [s for s in view["series"] if s["name"] == "mailbox.depth_total"]
    assert depth["points"] == [[10, 2]]
