"""Named queries for games, applications, invites and memberships."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from galaxy.store.database import Connection, fetch_one


@dataclass(frozen=True)
class GameRow:
    game_id: uuid.UUID
    owner_user_id: uuid.UUID | None  # None: a house game, made by an operator
    name: str
    description: str
    visibility: str
    status: str
    status_reason: str | None
    min_players: int
    max_players: int
    auto_approve: bool
    enrollment_deadline: datetime | None
    turn_schedule: str
    engine_version: str | None
    current_turn: int
    runtime_status: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    members: int


@dataclass(frozen=True)
class ApplicationRow:
    application_id: uuid.UUID
    game_id: uuid.UUID
    applicant_user_id: uuid.UUID
    race_name: str
    message: str
    status: str
    reason: str | None
    created_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True)
class InviteRow:
    invite_id: uuid.UUID
    game_id: uuid.UUID
    inviter_user_id: uuid.UUID
    invited_user_id: uuid.UUID | None  # None: a code invite nobody has redeemed yet
    status: str
    expires_at: datetime
    created_at: datetime
    decided_at: datetime | None
    code: str | None  # a shareable invite's code; None for an invite to a named player


@dataclass(frozen=True)
class MembershipRow:
    membership_id: uuid.UUID
    game_id: uuid.UUID
    user_id: uuid.UUID
    race_name: str
    status: str
    reason: str | None
    joined_at: datetime
    left_at: datetime | None
    initial_planets: int | None
    initial_population: float | None
    max_planets: int | None
    max_population: float | None


# -- games ----------------------------------------------------------------------

_GAME = """g.game_id, g.owner_user_id, g.name, g.description, g.visibility, g.status,
       g.status_reason, g.min_players, g.max_players, g.auto_approve, g.enrollment_deadline,
       g.turn_schedule, g.engine_version, g.current_turn, g.runtime_status, g.created_at,
       g.updated_at, g.started_at, g.finished_at,
       (SELECT count(*) FROM memberships m
        WHERE m.game_id = g.game_id AND m.status = 'active')::int AS members"""

INSERT_GAME = """
INSERT INTO games (game_id, owner_user_id, name, description, visibility, min_players,
                   max_players, auto_approve, enrollment_deadline, turn_schedule, engine_version)
VALUES (%(game_id)s, %(owner_user_id)s, %(name)s, %(description)s, %(visibility)s,
        %(min_players)s, %(max_players)s, %(auto_approve)s, %(enrollment_deadline)s,
        %(turn_schedule)s, %(engine_version)s)
"""

GET_GAME = f"SELECT {_GAME} FROM games g WHERE g.game_id = %(game_id)s"
LOCK_GAME = GET_GAME + " FOR UPDATE OF g"

UPDATE_SETTINGS = """
UPDATE games SET name = %(name)s, description = %(description)s, visibility = %(visibility)s,
    min_players = %(min_players)s, max_players = %(max_players)s,
    auto_approve = %(auto_approve)s, enrollment_deadline = %(enrollment_deadline)s,
    turn_schedule = %(turn_schedule)s, engine_version = %(engine_version)s, updated_at = now()
WHERE game_id = %(game_id)s
"""

SET_STATUS = """
UPDATE games SET status = %(status)s, status_reason = %(reason)s, updated_at = now(),
    started_at = CASE WHEN %(status)s = 'running' THEN coalesce(started_at, now())
                      ELSE started_at END,
    finished_at = CASE WHEN %(status)s IN ('finished', 'cancelled') THEN now()
                       ELSE finished_at END
WHERE game_id = %(game_id)s
"""

SET_RUNTIME = """
UPDATE games SET current_turn = greatest(current_turn, %(turn)s), runtime_status = %(runtime)s,
    updated_at = now()
WHERE game_id = %(game_id)s
"""

# Listings: public games (not drafts) for everyone; a user's own; all for operators.
_PUBLIC = "g.visibility = 'public' AND g.status <> 'draft'"
_STATUS = "(%(status)s::text IS NULL OR g.status = %(status)s)"
_MINE = """(g.owner_user_id = %(user_id)s OR EXISTS (
    SELECT 1 FROM memberships m
    WHERE m.game_id = g.game_id AND m.user_id = %(user_id)s AND m.status = 'active'))"""

LIST_PUBLIC = f"""SELECT {_GAME} FROM games g WHERE {_PUBLIC} AND {_STATUS}
ORDER BY g.created_at DESC, g.game_id LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_PUBLIC = f"SELECT count(*) FROM games g WHERE {_PUBLIC} AND {_STATUS}"
LIST_MINE = f"""SELECT {_GAME} FROM games g WHERE {_MINE} AND {_STATUS}
ORDER BY g.created_at DESC, g.game_id LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_MINE = f"SELECT count(*) FROM games g WHERE {_MINE} AND {_STATUS}"
LIST_ALL = f"""SELECT {_GAME} FROM games g WHERE {_STATUS}
ORDER BY g.created_at DESC, g.game_id LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_ALL = f"SELECT count(*) FROM games g WHERE {_STATUS}"

COUNT_OWNED_LIVE = """SELECT count(*) FROM games
WHERE owner_user_id = %(user_id)s AND status NOT IN ('finished', 'cancelled')"""

# How a user who is not the owner relates to a game: member, invited, or nothing.
VIEWER_ROLE = """SELECT CASE
    WHEN EXISTS (SELECT 1 FROM memberships WHERE game_id = %(game_id)s
                 AND user_id = %(user_id)s AND status = 'active') THEN 'member'
    WHEN EXISTS (SELECT 1 FROM invites WHERE game_id = %(game_id)s
                 AND invited_user_id = %(user_id)s AND status = 'pending') THEN 'invited'
    END"""

LIVE_GAMES = f"""SELECT {_GAME} FROM games g
WHERE g.status NOT IN ('finished', 'cancelled')"""

ENROLLMENT_EXPIRED = f"""SELECT {_GAME} FROM games g
WHERE g.status = 'enrollment_open' AND g.enrollment_deadline <= now()
ORDER BY g.enrollment_deadline LIMIT 100"""

# -- applications ----------------------------------------------------------------

_APPLICATION = """application_id, game_id, applicant_user_id, race_name, message, status, reason,
       created_at, decided_at"""

INSERT_APPLICATION = f"""
INSERT INTO applications (application_id, game_id, applicant_user_id, race_name, message)
VALUES (%(application_id)s, %(game_id)s, %(user_id)s, %(race_name)s, %(message)s)
RETURNING {_APPLICATION}
"""

LIVE_APPLICATION = f"""SELECT {_APPLICATION} FROM applications
WHERE game_id = %(game_id)s AND applicant_user_id = %(user_id)s
  AND status IN ('pending', 'approved')"""

LOCK_APPLICATION = f"""SELECT {_APPLICATION} FROM applications
WHERE application_id = %(application_id)s AND game_id = %(game_id)s FOR UPDATE"""

DECIDE_APPLICATION = f"""
UPDATE applications SET status = %(status)s, reason = %(reason)s, decided_at = now()
WHERE application_id = %(application_id)s
RETURNING {_APPLICATION}
"""

PENDING_APPLICATIONS = f"""SELECT {_APPLICATION} FROM applications
WHERE game_id = %(game_id)s AND status = 'pending' ORDER BY created_at"""

USER_APPLICATIONS = f"""SELECT {_APPLICATION} FROM applications
WHERE applicant_user_id = %(user_id)s ORDER BY created_at DESC
LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_USER_APPLICATIONS = "SELECT count(*) FROM applications WHERE applicant_user_id = %(user_id)s"
COUNT_USER_PENDING_APPLICATIONS = """SELECT count(*) FROM applications
WHERE applicant_user_id = %(user_id)s AND status = 'pending'"""

# -- invites ---------------------------------------------------------------------

_INVITE = """invite_id, game_id, inviter_user_id, invited_user_id, status, expires_at,
       created_at, decided_at, code"""

INSERT_INVITE = f"""
INSERT INTO invites (invite_id, game_id, inviter_user_id, invited_user_id, code, expires_at)
VALUES (%(invite_id)s, %(game_id)s, %(inviter)s, %(invited)s, %(code)s,
        coalesce(%(expires_at)s, now() + make_interval(secs => %(default_ttl)s)))
RETURNING {_INVITE}
"""

INVITE_BY_CODE = "SELECT invite_id, game_id FROM invites WHERE code = %(code)s"

LOCK_INVITE = f"""SELECT {_INVITE}, expires_at <= now() AS expired FROM invites
WHERE invite_id = %(invite_id)s AND game_id = %(game_id)s FOR UPDATE"""

DECIDE_INVITE = f"""
UPDATE invites SET status = %(status)s, decided_at = now(),
    invited_user_id = coalesce(invited_user_id, %(redeemer)s)
WHERE invite_id = %(invite_id)s
RETURNING {_INVITE}
"""

PENDING_INVITES = f"""SELECT {_INVITE} FROM invites
WHERE game_id = %(game_id)s AND status = 'pending' ORDER BY created_at"""

USER_INVITES = f"""SELECT {_INVITE} FROM invites
WHERE invited_user_id = %(user_id)s AND status = 'pending' AND expires_at > now()
ORDER BY created_at DESC LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_USER_INVITES = """SELECT count(*) FROM invites
WHERE invited_user_id = %(user_id)s AND status = 'pending' AND expires_at > now()"""

EXPIRE_INVITES = f"""
UPDATE invites SET status = 'expired', decided_at = now()
WHERE status = 'pending' AND expires_at <= now()
RETURNING {_INVITE}
"""

# -- memberships ------------------------------------------------------------------

_MEMBERSHIP = """membership_id, game_id, user_id, race_name, status, reason, joined_at, left_at,
       initial_planets, initial_population, max_planets, max_population"""

INSERT_MEMBERSHIP = f"""
INSERT INTO memberships (membership_id, game_id, user_id, race_name)
VALUES (%(membership_id)s, %(game_id)s, %(user_id)s, %(race_name)s)
ON CONFLICT (game_id, user_id) DO NOTHING
RETURNING {_MEMBERSHIP}
"""

GET_USER_MEMBERSHIP = f"""SELECT {_MEMBERSHIP} FROM memberships
WHERE game_id = %(game_id)s AND user_id = %(user_id)s"""

LOCK_MEMBERSHIP = f"""SELECT {_MEMBERSHIP} FROM memberships
WHERE membership_id = %(membership_id)s AND game_id = %(game_id)s FOR UPDATE"""

END_MEMBERSHIP = f"""
UPDATE memberships SET status = %(status)s, reason = %(reason)s, left_at = now()
WHERE membership_id = %(membership_id)s
RETURNING {_MEMBERSHIP}
"""

GAME_MEMBERSHIPS = f"""SELECT {_MEMBERSHIP} FROM memberships
WHERE game_id = %(game_id)s ORDER BY joined_at, membership_id
LIMIT %(limit)s OFFSET %(offset)s"""
COUNT_GAME_MEMBERSHIPS = "SELECT count(*) FROM memberships WHERE game_id = %(game_id)s"

ACTIVE_MEMBERSHIPS = f"""SELECT {_MEMBERSHIP} FROM memberships
WHERE game_id = %(game_id)s AND status = 'active' ORDER BY joined_at, membership_id"""

COUNT_USER_ACTIVE_MEMBERSHIPS = """SELECT count(*) FROM memberships m
WHERE m.user_id = %(user_id)s AND m.status = 'active' AND m.game_id IN (
    SELECT game_id FROM games WHERE status NOT IN ('finished', 'cancelled'))"""

COUNT_ACTIVE_MEMBERS = """SELECT count(*) FROM memberships
WHERE game_id = %(game_id)s AND status = 'active'"""

LIVE_MEMBERSHIPS = f"""SELECT {_MEMBERSHIP} FROM memberships m
WHERE m.status = 'active' AND m.game_id IN (
    SELECT game_id FROM games WHERE status NOT IN ('finished', 'cancelled'))"""

RECORD_STATS = """
UPDATE memberships SET
    initial_planets = coalesce(initial_planets, %(planets)s),
    initial_population = coalesce(initial_population, %(population)s),
    max_planets = greatest(coalesce(max_planets, 0), %(planets)s),
    max_population = greatest(coalesce(max_population, 0), %(population)s)
WHERE game_id = %(game_id)s AND race_name = %(race_name)s AND status = 'active'
RETURNING membership_id
"""

SET_INITIAL_STATS = """
UPDATE memberships SET initial_planets = %(planets)s, initial_population = %(population)s
WHERE game_id = %(game_id)s AND race_name = %(race_name)s
"""

# -- a user leaving everything (blocked or deleted) ---------------------------------

RELEASE_USER_APPLICATIONS = f"""
UPDATE applications SET status = 'released', reason = %(reason)s, decided_at = now()
WHERE applicant_user_id = %(user_id)s AND status IN ('pending', 'approved')
RETURNING {_APPLICATION}
"""

RELEASE_USER_INVITES = f"""
UPDATE invites SET status = 'released', decided_at = now()
WHERE (invited_user_id = %(user_id)s OR inviter_user_id = %(user_id)s) AND status = 'pending'
RETURNING {_INVITE}
"""

RELEASE_USER_MEMBERSHIPS = f"""
UPDATE memberships SET status = 'released', reason = %(reason)s, left_at = now()
WHERE user_id = %(user_id)s AND status = 'active'
RETURNING {_MEMBERSHIP}
"""

CANCEL_USER_GAMES = """
UPDATE games SET status = 'cancelled', status_reason = %(reason)s, updated_at = now(),
    finished_at = now()
WHERE owner_user_id = %(user_id)s AND status IN ('draft', 'enrollment_open', 'ready_to_start',
                                                 'start_failed')
RETURNING game_id
"""


async def get_game(conn: Connection, game_id: uuid.UUID, *, lock: bool = False) -> GameRow | None:
    return await fetch_one(conn, GameRow, LOCK_GAME if lock else GET_GAME, {"game_id": game_id})
