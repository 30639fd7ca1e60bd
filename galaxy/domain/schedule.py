"""Turn schedules: a five-field cron expression (UTC) or a fixed interval (`30s`, `24h`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronsim import CronSim, CronSimError

from galaxy.domain.durations import parse_duration
from galaxy.domain.errors import InvalidInput

MIN_INTERVAL = 1.0
# A month between turns is already a game played by letter; past it a schedule is a
# mistake, and a huge one (99999999999h) overflows the date of the next turn.
MAX_INTERVAL = 31 * 24 * 3600.0


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
        if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
            raise InvalidInput(
                f"an interval schedule is {MIN_INTERVAL:g}s to {MAX_INTERVAL / 86400:g} days",
                code="invalid_schedule",
            )
        return raw
    try:
        next(CronSim(raw, datetime.now(UTC)))  # an expression that never fires is refused too
    except (CronSimError, StopIteration) as error:
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
