"""Turn schedules and semantic versions, on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from galaxy.domain.errors import Conflict, InvalidInput
from galaxy.domain.schedule import MAX_INTERVAL, MIN_INTERVAL, check_schedule, next_turn
from galaxy.domain.semver import Version, check_patch_upgrade, parse_version

MIDNIGHT = datetime(2030, 1, 1, tzinfo=UTC)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@pytest.mark.parametrize("raw", ["30s", "24h", "1h30m", "0 0 * * *", "*/5 * * * *", "0 12 * * 1-5"])
def test_intervals_and_cron_expressions_are_schedules(raw: str) -> None:
    assert check_schedule(raw) == raw


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "x" * 101,
        "every day",
        "500ms",  # shorter than a second
        "745h",  # longer than a month
        "99999999999h",
        "61 * * * *",
        "0 0 31 2 *",  # the 31st of February never comes
    ],
)
def test_what_is_no_schedule_or_never_fires_is_refused(raw: object) -> None:
    with pytest.raises(InvalidInput, check=lambda e: e.code == "invalid_schedule"):
        check_schedule(raw)


def test_interval_bounds_are_inclusive() -> None:
    assert check_schedule(f"{MIN_INTERVAL:g}s")
    assert check_schedule(f"{MAX_INTERVAL / 3600:g}h")


@given(moments, st.integers(int(MIN_INTERVAL), int(MAX_INTERVAL)))
def test_an_interval_schedule_adds_the_interval(after: datetime, seconds: int) -> None:
    assert next_turn(f"{seconds}s", after) == after + timedelta(seconds=seconds)


@given(moments)
def test_a_daily_cron_turn_is_the_next_midnight_strictly_after(after: datetime) -> None:
    turn = next_turn("0 0 * * *", after)
    assert turn > after
    assert turn - after <= timedelta(days=1)
    assert (turn.hour, turn.minute, turn.second, turn.microsecond) == (0, 0, 0, 0)


def test_a_turn_exactly_at_a_cron_time_is_followed_by_the_next_one() -> None:
    assert next_turn("0 0 * * *", MIDNIGHT) == MIDNIGHT + timedelta(days=1)
    assert next_turn("*/5 * * * *", MIDNIGHT) == MIDNIGHT + timedelta(minutes=5)


# -- versions ------------------------------------------------------------------------

versions = st.builds(Version, *(st.integers(0, 999_999) for _ in range(3)))


@given(versions)
def test_a_version_reads_back_as_itself(version: Version) -> None:
    assert parse_version(str(version)) == version


def test_versions_order_by_number_not_by_text() -> None:
    assert parse_version("1.10.0") > parse_version("1.9.9")
    assert parse_version("2.0.0") > parse_version("1.99.99")


@pytest.mark.parametrize(
    "raw", [None, 1, "", "1.2", "1.2.3.4", "v1.2.3", "01.2.3", "1.2.3-rc1", "1234567.0.0", " 1.2.3"]
)
def test_what_is_not_major_minor_patch_is_refused(raw: object) -> None:
    with pytest.raises(InvalidInput, check=lambda e: e.code == "invalid_version"):
        parse_version(raw)


@given(versions, versions)
def test_a_running_game_takes_only_a_later_patch_of_its_own_line(
    current: Version, target: Version
) -> None:
    allowed = (target.major, target.minor) == (current.major, current.minor) and (
        target.patch > current.patch
    )
    if allowed:
        check_patch_upgrade(current, target)
    else:
        with pytest.raises(Conflict, check=lambda e: e.code == "not_a_patch_upgrade"):
            check_patch_upgrade(current, target)


def test_the_patch_rule_by_example() -> None:
    check_patch_upgrade(Version(1, 4, 2), Version(1, 4, 3))
    for target in (Version(1, 4, 2), Version(1, 4, 1), Version(1, 5, 0), Version(2, 4, 3)):
        with pytest.raises(Conflict):
            check_patch_upgrade(Version(1, 4, 2), target)
