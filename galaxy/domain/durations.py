"""Go-style durations (`2s`, `5m`, `720h`, `1h30m`, `250ms`) as float seconds.

The seeds were written for a Go service whose operators write durations the
way Go's `time.ParseDuration` reads them; we accept exactly that grammar
(without signs: no setting here is negative).
"""

import re

_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Return the duration in seconds; raise ValueError naming what is wrong."""
    value = text.strip()
    if value == "0":
        return 0.0
    if not value:
        raise ValueError("empty duration")
    total = 0.0
    position = 0
    for match in _PART.finditer(value):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(value):
        raise ValueError(f"{text!r} is not a duration such as 2s, 5m, 720h or 1h30m")
    return total


def format_duration(seconds: float) -> str:
    """The shortest Go-style spelling of a whole number of milliseconds."""
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    parts: list[str] = []
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs:
        parts.append(f"{secs}s")
    if millis:
        parts.append(f"{millis}ms")
    return "".join(parts)
