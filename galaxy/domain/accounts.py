"""Account rules: profile and settings values, entitlement tiers, sanctions and limits."""

from __future__ import annotations

import functools
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import datetime

import langcodes

from galaxy.domain.errors import InvalidInput

DEFAULT_LANGUAGE = "en"
DISPLAY_NAME_MIN = 2
DISPLAY_NAME_MAX = 32
REASON_MAX = 500
_DISPLAY_PUNCTUATION = frozenset(" -_.'")


def check_language(raw: object) -> str:
    """A well-formed BCP 47 tag, in its canonical casing (`en-us` → `en-US`)."""
    if not isinstance(raw, str) or not 1 <= len(raw) <= 35 or not langcodes.tag_is_valid(raw):
        raise InvalidInput(
            "preferred_language must be a BCP 47 language tag such as en or pt-BR",
            code="invalid_language",
        )
    return str(langcodes.standardize_tag(raw))


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_time_zone(raw: object) -> str:
    """An IANA zone name known to the bundled tz database (`Europe/Berlin`, `UTC`)."""
    if not isinstance(raw, str) or raw not in _zones():
        raise InvalidInput(
            "time_zone must be an IANA time zone such as Europe/Berlin", code="invalid_time_zone"
        )
    return raw


def check_display_name(raw: object) -> str:
    """2 to 32 letters, marks, digits, spaces and `-_.'`; no edge or double spaces.

    NFC-normalised so that a name looks and compares the same however typed.
    """
    if not isinstance(raw, str):
        raise InvalidInput("display_name must be a string", code="invalid_display_name")
    name = unicodedata.normalize("NFC", raw)
    problem = None
    if not DISPLAY_NAME_MIN <= len(name) <= DISPLAY_NAME_MAX:
        problem = f"must be {DISPLAY_NAME_MIN} to {DISPLAY_NAME_MAX} characters"
    elif name != name.strip() or "  " in name:
        problem = "must not start or end with a space or hold two spaces in a row"
    elif any(not _display_char(ch) for ch in name):
        problem = "may hold letters, digits, spaces and - _ . ' only"
    elif not any(ch.isalnum() for ch in name):
        problem = "needs at least one letter or digit"
    if problem:
        raise InvalidInput(f"display_name {problem}", code="invalid_display_name")
    return name


def _display_char(ch: str) -> bool:
    return ch in _DISPLAY_PUNCTUATION or unicodedata.category(ch)[0] in "LMN"


def check_reason(raw: object, *, required: bool = True) -> str:
    if raw is None and not required:
        return ""
    if not isinstance(raw, str) or (required and not raw.strip()) or len(raw) > REASON_MAX:
        raise InvalidInput(
            f"reason must be a non-empty string of at most {REASON_MAX} characters",
            code="invalid_reason",
        )
    return raw.strip()


# -- entitlements -------------------------------------------------------------

# The tier decides how many race names a player may hold registered at once.
# Lowering a tier only stops new registrations; names held are kept.
TIERS: dict[str, int] = {"free": 1, "supporter": 3, "patron": 10}
DEFAULT_TIER = "free"
ENTITLEMENT_SOURCES = frozenset({"admin", "purchase", "promotion"})


def check_tier(raw: object) -> str:
    # The type first: `[] in TIERS` would raise TypeError (unhashable), not answer 400.
    if not isinstance(raw, str) or raw not in TIERS:
        raise InvalidInput(f"tier must be one of {', '.join(TIERS)}", code="invalid_tier")
    return raw


def check_source(raw: object) -> str:
    if raw is None:
        return "admin"
    if not isinstance(raw, str) or raw not in ENTITLEMENT_SOURCES:
        raise InvalidInput(
            f"source must be one of {', '.join(sorted(ENTITLEMENT_SOURCES))}",
            code="invalid_source",
        )
    return raw


# -- sanctions ----------------------------------------------------------------


@dataclass(frozen=True)
class SanctionKind:
    name: str
    expiry: str  # "forbidden", "required" or "optional"
    ends_sessions: bool  # applying it revokes every session of the user
    description: str


SANCTIONS: dict[str, SanctionKind] = {
    kind.name: kind
    for kind in (
        SanctionKind(
            "permanent_block",
            "forbidden",
            True,
            "no login, the address is refused, the lobby releases everything the user holds",
        ),
        SanctionKind("login_suspension", "required", True, "no login until the sanction expires"),
        SanctionKind("lobby_ban", "optional", False, "may not create, join or apply to games"),
        SanctionKind("diplomail_mute", "optional", False, "may not send diplomatic mail"),
    )
}


def check_sanction_kind(raw: object) -> SanctionKind:
    kind = SANCTIONS.get(raw) if isinstance(raw, str) else None
    if kind is None:
        raise InvalidInput(
            f"kind must be one of {', '.join(SANCTIONS)}", code="invalid_sanction_kind"
        )
    return kind


def check_expiry(kind: SanctionKind, expires_at: datetime | None, now: datetime) -> None:
    if kind.expiry == "forbidden" and expires_at is not None:
        raise InvalidInput(f"{kind.name} takes no expires_at", code="invalid_expiry")
    if kind.expiry == "required" and expires_at is None:
        raise InvalidInput(f"{kind.name} needs expires_at", code="invalid_expiry")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("expires_at must be in the future", code="invalid_expiry")


# -- limits -------------------------------------------------------------------

# Per-user overrides of platform quotas; the areas that own a quota read them.
LIMITS: dict[str, str] = {
    "max_owned_games": "games the user may own that are not finished",
    "max_active_memberships": "games the user may play at once",
    "max_pending_applications": "applications the user may have awaiting a decision",
    "diplomail_daily_messages": "diplomatic messages the user may send per day",
}
LIMIT_MAX = 1_000_000
# The platform quotas when no override is active.
DEFAULT_LIMITS: dict[str, int] = {
    "max_owned_games": 10,
    "max_active_memberships": 20,
    "max_pending_applications": 20,
    "diplomail_daily_messages": 200,
}


def check_limit_kind(raw: object) -> str:
    if not isinstance(raw, str) or raw not in LIMITS:
        raise InvalidInput(f"kind must be one of {', '.join(LIMITS)}", code="invalid_limit_kind")
    return raw


def check_limit_value(raw: object) -> int | None:
    """A whole number 0..1,000,000, or null to clear the override."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= LIMIT_MAX:
        raise InvalidInput(
            f"value must be a whole number from 0 to {LIMIT_MAX}, or null to clear",
            code="invalid_limit_value",
        )
    return raw


_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")


def parse_timestamp(raw: object, name: str) -> datetime | None:
    """An RFC 3339 time with an explicit offset, or None when absent."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not _TIMESTAMP.match(raw):
        raise InvalidInput(
            f"{name} must be an RFC 3339 time with an offset, e.g. 2030-01-01T00:00:00Z",
            code="invalid_time",
        )
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} is not a valid time", code="invalid_time") from None
