"""Games: the enrollment state machine, and the rules of a game's settings.

The transition table is the one place that says which action may move a game
from which state; an action from any other state is a 409 whose code names
the state the game is in (`game_running`, `game_draft`, ...).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from galaxy.domain.accounts import parse_timestamp
from galaxy.domain.errors import Conflict, InvalidInput
from galaxy.domain.schedule import check_schedule


class Status(StrEnum):
    DRAFT = "draft"
    ENROLLMENT_OPEN = "enrollment_open"
    READY_TO_START = "ready_to_start"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    START_FAILED = "start_failed"


class Action(StrEnum):
    OPEN_ENROLLMENT = "open_enrollment"
    READY_TO_START = "ready_to_start"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"
    RETRY_START = "retry_start"
    # the runtime's reports
    STARTED = "started"
    START_FAILED = "start_failed"
    ENGINE_TROUBLE = "engine_trouble"
    RECOVERED = "recovered"
    FINISH = "finish"
    # operators
    FORCE_START = "force_start"
    FORCE_STOP = "force_stop"
    # the sweeper, when the enrollment deadline has passed
    ENROLLMENT_EXPIRED_READY = "enrollment_expired_ready"
    ENROLLMENT_EXPIRED_CANCEL = "enrollment_expired_cancel"


S = Status
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status]] = {
    Action.OPEN_ENROLLMENT: (frozenset({S.DRAFT}), S.ENROLLMENT_OPEN),
    Action.READY_TO_START: (frozenset({S.ENROLLMENT_OPEN}), S.READY_TO_START),
    Action.START: (frozenset({S.READY_TO_START}), S.STARTING),
    Action.PAUSE: (frozenset({S.RUNNING}), S.PAUSED),
    Action.RESUME: (frozenset({S.PAUSED}), S.RUNNING),
    Action.CANCEL: (
        frozenset({S.DRAFT, S.ENROLLMENT_OPEN, S.READY_TO_START, S.START_FAILED}),
        S.CANCELLED,
    ),
    Action.RETRY_START: (frozenset({S.START_FAILED}), S.STARTING),
    Action.STARTED: (frozenset({S.STARTING}), S.RUNNING),
    Action.START_FAILED: (frozenset({S.STARTING}), S.START_FAILED),
    Action.ENGINE_TROUBLE: (frozenset({S.RUNNING}), S.PAUSED),
    Action.RECOVERED: (frozenset({S.PAUSED}), S.RUNNING),
    Action.FINISH: (frozenset({S.RUNNING, S.PAUSED}), S.FINISHED),
    Action.FORCE_START: (
        frozenset({S.ENROLLMENT_OPEN, S.READY_TO_START, S.START_FAILED}),
        S.STARTING,
    ),
    Action.FORCE_STOP: (frozenset({S.STARTING, S.RUNNING, S.PAUSED}), S.FINISHED),
    Action.ENROLLMENT_EXPIRED_READY: (frozenset({S.ENROLLMENT_OPEN}), S.READY_TO_START),
    Action.ENROLLMENT_EXPIRED_CANCEL: (frozenset({S.ENROLLMENT_OPEN}), S.CANCELLED),
}

# Where players may still join, and where a game is over for good.
ENROLLING = frozenset({S.ENROLLMENT_OPEN})
LIVE = frozenset(
    {S.DRAFT, S.ENROLLMENT_OPEN, S.READY_TO_START, S.STARTING, S.RUNNING, S.PAUSED, S.START_FAILED}
)
OVER = frozenset({S.FINISHED, S.CANCELLED})


def transition(current: str, action: Action) -> Status:
    """The state `action` leads to from `current`, or a 409 naming `current`."""
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        raise Conflict(
            f"cannot {action.value.replace('_', ' ')} a game that is {current.replace('_', ' ')}",
            code=f"game_{current}",
        )
    return target


# -- settings -------------------------------------------------------------------

MAX_PLAYERS = 50  # the engine's limit
ENGINE_MIN_RACES = 2  # the engine plays no game with fewer races (ENGINE.md, init)
NAME_MAX = 64
DESCRIPTION_MAX = 2000
DEFAULT_SCHEDULE = "0 0 * * *"  # a turn a day, at midnight UTC
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class GameSettings:
    name: str
    description: str
    visibility: str
    min_players: int
    max_players: int
    auto_approve: bool
    enrollment_deadline: datetime | None
    turn_schedule: str
    engine_version: str | None

    def to_row(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "visibility": self.visibility,
            "min_players": self.min_players,
            "max_players": self.max_players,
            "auto_approve": self.auto_approve,
            "enrollment_deadline": self.enrollment_deadline,
            "turn_schedule": self.turn_schedule,
            "engine_version": self.engine_version,
        }


SETTING_FIELDS = frozenset(
    {
        "name",
        "description",
        "visibility",
        "min_players",
        "max_players",
        "auto_approve",
        "enrollment_deadline",
        "turn_schedule",
        "engine_version",
    }
)


def game_settings(body: dict[str, Any], current: GameSettings | None = None) -> GameSettings:
    """Settings from a create body (current None) or a patch over `current`."""

    def pick(key: str, default: Any) -> Any:
        if key in body:
            return body[key]
        if current is not None:
            return getattr(current, key)
        return default

    name = pick("name", None)
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= NAME_MAX:
        raise InvalidInput(f"name must be 1 to {NAME_MAX} characters", code="invalid_name")
    description = pick("description", "")
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
        raise InvalidInput(
            f"description must be at most {DESCRIPTION_MAX} characters", code="invalid_description"
        )
    visibility = pick("visibility", "public")
    if visibility not in ("public", "private"):
        raise InvalidInput("visibility must be public or private", code="invalid_visibility")
    min_players = _whole(pick("min_players", 2), "min_players")
    max_players = _whole(pick("max_players", 8), "max_players")
    # A game made before the engine's minimum was enforced keeps its setting until the
    # owner changes the player counts themself.
    floor = ENGINE_MIN_RACES if current is None or "min_players" in body else 1
    if not floor <= min_players <= max_players <= MAX_PLAYERS:
        raise InvalidInput(
            f"players: {ENGINE_MIN_RACES} <= min_players <= max_players <= {MAX_PLAYERS}",
            code="invalid_players",
        )
    auto_approve = pick("auto_approve", False)
    if not isinstance(auto_approve, bool):
        raise InvalidInput("auto_approve must be true or false", code="invalid_auto_approve")
    deadline = pick("enrollment_deadline", None)
    if isinstance(deadline, str) or "enrollment_deadline" in body:
        deadline = parse_timestamp(body.get("enrollment_deadline"), "enrollment_deadline")
        if deadline is not None and deadline <= datetime.now(UTC):
            raise InvalidInput("enrollment_deadline must be in the future", code="invalid_time")
    schedule = pick("turn_schedule", DEFAULT_SCHEDULE)
    check_schedule(schedule)
    version = pick("engine_version", None)
    if version is not None and (not isinstance(version, str) or not _VERSION.match(version)):
        raise InvalidInput(
            "engine_version must be a version such as 1.2.3", code="invalid_engine_version"
        )
    return GameSettings(
        name=name.strip(),
        description=description,
        visibility=visibility,
        min_players=min_players,
        max_players=max_players,
        auto_approve=auto_approve,
        enrollment_deadline=deadline,
        turn_schedule=schedule,
        engine_version=version,
    )


def _whole(raw: object, name: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise InvalidInput(f"{name} must be a whole number", code="invalid_players")
    return raw


# -- invite codes -------------------------------------------------------------------

# Read aloud and typed by people: no 0/O and 1/I to mistake. 12 of 32 symbols are 60 bits,
# beyond guessing at any rate the service answers.
INVITE_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
INVITE_CODE_LENGTH = 12


def new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_CODE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


def check_invite_code(raw: object) -> str:
    """A code as a person may type it (any case, spaces or dashes between groups)."""
    code = raw.upper().replace("-", "").replace(" ", "") if isinstance(raw, str) else ""
    if len(code) != INVITE_CODE_LENGTH or any(c not in INVITE_CODE_ALPHABET for c in code):
        raise InvalidInput(
            f"code must be {INVITE_CODE_LENGTH} letters and digits", code="invalid_invite_code"
        )
    return code
