"""The kernel's exponential backoff, on its own."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from galaxy.actors.backoff import Backoff


def test_delays_double_from_the_initial_one_up_to_the_cap() -> None:
    backoff = Backoff(initial=0.1, factor=2.0, maximum=1.0)
    delays = [backoff.delay(attempt) for attempt in range(1, 7)]
    assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_no_attempt_yet_means_no_delay() -> None:
    assert Backoff().delay(0) == 0.0
    assert Backoff().delay(-3) == 0.0


backoffs = st.builds(
    Backoff,
    initial=st.floats(0.001, 10),
    factor=st.floats(1, 4),
    maximum=st.floats(0.001, 100),
    jitter=st.floats(0, 1),
)


@given(backoffs, st.integers(1, 200), st.integers(0, 2**32))
def test_a_delay_with_jitter_stays_within_its_spread_and_the_cap(
    backoff: Backoff, attempt: int, seed: int
) -> None:
    plain = Backoff(backoff.initial, backoff.factor, backoff.maximum).delay(attempt)
    delay = backoff.delay(attempt, random.Random(seed))
    assert 0.0 <= delay <= backoff.maximum
    assert abs(delay - plain) <= plain * backoff.jitter + 1e-9


@given(st.integers(1, 50))
def test_without_jitter_delays_never_shrink(attempt: int) -> None:
    backoff = Backoff(initial=0.05, factor=1.5, maximum=30.0)
    assert backoff.delay(attempt + 1) >= backoff.delay(attempt)


def test_jitter_spreads_workers_that_retry_at_once() -> None:
    backoff = Backoff(initial=1.0, jitter=0.5)
    rng = random.Random(7)
    assert len({backoff.delay(3, rng) for _ in range(20)}) == 20


def test_the_same_seed_draws_the_same_delays() -> None:
    backoff = Backoff(initial=1.0, jitter=0.5)
    first = [backoff.delay(n, random.Random(1)) for n in range(1, 6)]
    assert first == [backoff.delay(n, random.Random(1)) for n in range(1, 6)]
