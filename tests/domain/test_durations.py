"""Go-style durations (BACKEND_*_TIMEOUT and friends), on their own."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from galaxy.domain.durations import format_duration, parse_duration


@given(st.integers(0, 10**10))
def test_a_formatted_duration_reads_back_to_the_millisecond(millis: int) -> None:
    text = format_duration(millis / 1000)
    assert parse_duration(text) == pytest.approx(millis / 1000, abs=1e-9)
    assert format_duration(parse_duration(text)) == text
