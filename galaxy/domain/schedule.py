"""Turn schedules: a five-field cron expression (UTC) or a fixed interval (`30s`, `24h`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronsim import CronSim, CronSimError

from galaxy.domain.durations import parse_duration
from galaxy.domain.errors import InvalidInput

MIN_INTERVAL = 1.0


def _interval(raw: str) -> float | None:
    try:
        seconds = parse_duration(raw)
    except ValueError:
        return None
    return seconds


def check_schedule(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 100:
        raise InvalidInput(
            "turn_schedule must be a cron expression or an interval", code="invalid_schedule"
        )
    interval = _interval(raw)
    if interval is not None:
        if interval < MIN_INTERVAL:
            raise InvalidInput(
                f"an interval schedule is at least {MIN_INTERVAL:g}s", code="invalid_schedule"
            )
        return raw
    try:
        CronSim(raw, datetime.now(UTC))
    except CronSimError as error:
        raise InvalidInput(
            f"turn_schedule is neither an interval (30s, 24h) nor a cron expression: {error}",
            code="invalid_schedule",
        ) from None
    return raw


def next_turn(schedule: str, after: datetime) -> datetime:
    """The first turn time strictly after `after`."""
    interval = _interval(schedule)
    if interval is not None:
        return after + timedelta(seconds=interval)
    return next(CronSim(schedule, after))
