"""Named queries for games, applications, invites and memberships, and the verbs that run them.

Services hold the transaction (a `Database.run` or a unit of work) and call
these verbs with its connection; no SQL is written or executed above this layer.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

from psycopg.rows import dict_row

from galaxy.store.database import (
    Connection,
    fetch_all,
    fetch_count,
    fetch_one,
    fetch_page,
    returned,
)

T = TypeVar("T")


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
    winner_race: str | None  # the race the engine named the winner, once finished
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
       g.updated_at, g.started_at, g.finished_at, g.winner_race,
       (SELECT count(*) FROM memberships m
        WHERE m.game_id = g.game_id AND m.status = 'active')::int AS members"""
GAME_COLUMNS = _GAME  # a GameRow's columns of `games g`, for queries that join more to it

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

SET_WINNER = "UPDATE games SET winner_race = %(winner)s WHERE game_id = %(game_id)s"

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

COUNT_GAMES_BY_STATUS = "SELECT status, count(*) FROM games GROUP BY status ORDER BY status"

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

RENAME_APPLICATION = f"""
UPDATE applications SET race_name = %(race_name)s
WHERE application_id = %(application_id)s AND status = 'pending'
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

# -- a game as one user sees it, in one statement -----------------------------------


# The viewer's role (owner, member, invited, public, or NULL: a stranger) and, for the
# owner only, what waits for them: pending applications and invites, each aggregated
# into one typed array per column (`app_*`, `inv_*`), every array of a table in one
# total order (created_at, then the id: ties must not misalign the arrays).
def _arrays(columns: str, order: str, prefix: str) -> str:
    names = [name.strip() for name in columns.split(",")]
    return ",\n       ".join(f"array_agg({n} ORDER BY {order}) AS {prefix}{n}" for n in names)


GAME_SIGHT = f"""
SELECT {_GAME},
       CASE WHEN g.owner_user_id = %(viewer)s THEN 'owner'
            WHEN EXISTS (SELECT 1 FROM memberships m WHERE m.game_id = g.game_id
                         AND m.user_id = %(viewer)s AND m.status = 'active') THEN 'member'
            WHEN EXISTS (SELECT 1 FROM invites i WHERE i.game_id = g.game_id
                         AND i.invited_user_id = %(viewer)s AND i.status = 'pending')
                 THEN 'invited'
            WHEN g.visibility = 'public' AND g.status <> 'draft' THEN 'public'
       END AS viewer_role,
       a.*, i.*
FROM games g
CROSS JOIN LATERAL (
    SELECT {_arrays(_APPLICATION, "created_at, application_id", "app_")}
    FROM applications
    WHERE game_id = g.game_id AND status = 'pending' AND g.owner_user_id = %(viewer)s
) a
CROSS JOIN LATERAL (
    SELECT {_arrays(_INVITE, "created_at, invite_id", "inv_")}
    FROM invites
    WHERE game_id = g.game_id AND status = 'pending' AND g.owner_user_id = %(viewer)s
) i
WHERE g.game_id = %(game_id)s
"""

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


# -- verbs: games ------------------------------------------------------------------------

_LISTINGS: dict[str, tuple[str, str]] = {
    "public": (LIST_PUBLIC, COUNT_PUBLIC),
    "mine": (LIST_MINE, COUNT_MINE),
    "all": (LIST_ALL, COUNT_ALL),
}


async def get_game(conn: Connection, game_id: uuid.UUID, *, lock: bool = False) -> GameRow | None:
    return await fetch_one(conn, GameRow, LOCK_GAME if lock else GET_GAME, {"game_id": game_id})


async def insert_game(
    conn: Connection,
    game_id: uuid.UUID,
    owner_user_id: uuid.UUID | None,
    settings: Mapping[str, Any],
) -> None:
    """`settings` is `GameSettings.to_row()`: the columns a game's owner chooses."""
    await conn.execute(
        INSERT_GAME, {"game_id": game_id, "owner_user_id": owner_user_id, **settings}
    )


async def update_settings(
    conn: Connection, game_id: uuid.UUID, settings: Mapping[str, Any]
) -> None:
    await conn.execute(UPDATE_SETTINGS, {"game_id": game_id, **settings})


async def set_status(conn: Connection, game_id: uuid.UUID, status: str, reason: str | None) -> None:
    await conn.execute(SET_STATUS, {"game_id": game_id, "status": status, "reason": reason})


async def set_winner(conn: Connection, game_id: uuid.UUID, winner: str) -> None:
    await conn.execute(SET_WINNER, {"game_id": game_id, "winner": winner})


async def set_runtime(conn: Connection, game_id: uuid.UUID, turn: int, runtime_status: str) -> None:
    """The runtime's view of a game; the turn never goes back."""
    await conn.execute(SET_RUNTIME, {"game_id": game_id, "turn": turn, "runtime": runtime_status})


async def count_owned_live(conn: Connection, user_id: uuid.UUID) -> int:
    return await fetch_count(conn, COUNT_OWNED_LIVE, {"user_id": user_id})


async def list_games(
    conn: Connection,
    which: str,
    *,
    status: str | None,
    user_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> tuple[list[GameRow], int]:
    """One page of a listing (`public`, `mine`, `all`) and the listing's total."""
    query, count = _LISTINGS[which]
    params = {"status": status, "user_id": user_id}
    return await fetch_page(conn, GameRow, query, count, limit, offset, params)


async def viewer_role(conn: Connection, game_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
    """`member`, `invited`, or None: how a user who is not the owner relates to a game."""
    cursor = await conn.execute(VIEWER_ROLE, {"game_id": game_id, "user_id": user_id})
    row: Any = await cursor.fetchone()
    return str(row[0]) if row is not None and row[0] else None


@dataclass(frozen=True)
class GameSightRow:
    """A game as one user sees it (`game_sight`): their role (None: a stranger) and, for
    the owner only, the pending applications and invites, oldest first."""

    game: GameRow
    viewer_role: str | None
    applications: list[ApplicationRow]
    invites: list[InviteRow]


async def game_sight(
    conn: Connection, game_id: uuid.UUID, viewer: uuid.UUID
) -> GameSightRow | None:
    """The game as `viewer` sees it; None when there is no such game. One statement."""
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(GAME_SIGHT, {"game_id": game_id, "viewer": viewer})
        found = await cursor.fetchone()
    if found is None:
        return None
    game = GameRow(**{f.name: found[f.name] for f in fields(GameRow)})
    applications = _unzipped(ApplicationRow, found, "app_")
    invites = _unzipped(InviteRow, found, "inv_")
    return GameSightRow(game, found["viewer_role"], applications, invites)


def _unzipped(row: type[T], found: dict[str, Any], prefix: str) -> list[T]:
    """Rows from parallel arrays named `prefix` + each of the row's fields (NULL: none)."""
    names = [f.name for f in fields(row)]  # type: ignore[arg-type]
    arrays = [found[prefix + name] or [] for name in names]
    return [row(*values) for values in zip(*arrays, strict=True)]


async def live_games(conn: Connection) -> list[GameRow]:
    return await fetch_all(conn, GameRow, LIVE_GAMES)


async def enrollment_expired(conn: Connection) -> list[GameRow]:
    """Up to 100 enrolling games whose deadline has passed, the oldest deadline first."""
    return await fetch_all(conn, GameRow, ENROLLMENT_EXPIRED)


async def count_by_status(conn: Connection) -> dict[str, int]:
    cursor = await conn.execute(COUNT_GAMES_BY_STATUS)
    return {str(status): int(n) for status, n in await cursor.fetchall()}


# -- verbs: applications ---------------------------------------------------------------


async def insert_application(
    conn: Connection,
    application_id: uuid.UUID,
    game_id: uuid.UUID,
    user_id: uuid.UUID,
    race_name: str,
    message: str,
) -> ApplicationRow:
    params = {
        "application_id": application_id,
        "game_id": game_id,
        "user_id": user_id,
        "race_name": race_name,
        "message": message,
    }
    return returned(await fetch_one(conn, ApplicationRow, INSERT_APPLICATION, params))


async def live_application(
    conn: Connection, game_id: uuid.UUID, user_id: uuid.UUID
) -> ApplicationRow | None:
    """The user's pending or approved application to the game, if any."""
    params = {"game_id": game_id, "user_id": user_id}
    return await fetch_one(conn, ApplicationRow, LIVE_APPLICATION, params)


async def lock_application(
    conn: Connection, application_id: uuid.UUID, game_id: uuid.UUID
) -> ApplicationRow | None:
    params = {"application_id": application_id, "game_id": game_id}
    return await fetch_one(conn, ApplicationRow, LOCK_APPLICATION, params)


async def decide_application(
    conn: Connection, application_id: uuid.UUID, status: str, reason: str | None
) -> ApplicationRow:
    params = {"application_id": application_id, "status": status, "reason": reason}
    return returned(await fetch_one(conn, ApplicationRow, DECIDE_APPLICATION, params))


async def rename_application(
    conn: Connection, application_id: uuid.UUID, race_name: str
) -> ApplicationRow:
    """A pending application (locked by the caller) asks for another race name."""
    params = {"application_id": application_id, "race_name": race_name}
    return returned(await fetch_one(conn, ApplicationRow, RENAME_APPLICATION, params))


async def pending_applications(conn: Connection, game_id: uuid.UUID) -> list[ApplicationRow]:
    return await fetch_all(conn, ApplicationRow, PENDING_APPLICATIONS, {"game_id": game_id})


async def user_applications(
    conn: Connection, user_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[ApplicationRow], int]:
    return await fetch_page(
        conn,
        ApplicationRow,
        USER_APPLICATIONS,
        COUNT_USER_APPLICATIONS,
        limit,
        offset,
        {"user_id": user_id},
    )


async def count_user_pending_applications(conn: Connection, user_id: uuid.UUID) -> int:
    return await fetch_count(conn, COUNT_USER_PENDING_APPLICATIONS, {"user_id": user_id})


async def release_user_applications(conn: Connection, user_id: uuid.UUID, reason: str) -> None:
    await conn.execute(RELEASE_USER_APPLICATIONS, {"user_id": user_id, "reason": reason})


# -- verbs: invites ----------------------------------------------------------------------


async def insert_invite(
    conn: Connection,
    invite_id: uuid.UUID,
    game_id: uuid.UUID,
    *,
    inviter: uuid.UUID,
    invited: uuid.UUID | None,
    code: str | None,
    expires_at: datetime | None,
    default_ttl: float,
) -> InviteRow:
    """An invite expiring at `expires_at`, or `default_ttl` seconds from now."""
    params = {
        "invite_id": invite_id,
        "game_id": game_id,
        "inviter": inviter,
        "invited": invited,
        "code": code,
        "expires_at": expires_at,
        "default_ttl": default_ttl,
    }
    return returned(await fetch_one(conn, InviteRow, INSERT_INVITE, params))


async def invite_by_code(conn: Connection, code: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The (invite_id, game_id) a code names, without a lock: the game is locked first."""
    cursor = await conn.execute(INVITE_BY_CODE, {"code": code})
    row: Any = await cursor.fetchone()
    return (row[0], row[1]) if row is not None else None


async def lock_invite(
    conn: Connection, invite_id: uuid.UUID, game_id: uuid.UUID
) -> tuple[InviteRow, bool] | None:
    """The invite, locked, and whether it has expired by the database's clock."""
    cursor = await conn.execute(LOCK_INVITE, {"invite_id": invite_id, "game_id": game_id})
    row: Any = await cursor.fetchone()
    if row is None:
        return None
    return InviteRow(*row[:-1]), bool(row[-1])


async def decide_invite(
    conn: Connection, invite_id: uuid.UUID, status: str, *, redeemer: uuid.UUID | None = None
) -> InviteRow:
    """Close an invite; a code invite's redeemer becomes its invited player."""
    params = {"invite_id": invite_id, "status": status, "redeemer": redeemer}
    return returned(await fetch_one(conn, InviteRow, DECIDE_INVITE, params))


async def pending_invites(conn: Connection, game_id: uuid.UUID) -> list[InviteRow]:
    return await fetch_all(conn, InviteRow, PENDING_INVITES, {"game_id": game_id})


async def user_invites(
    conn: Connection, user_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[InviteRow], int]:
    return await fetch_page(
        conn, InviteRow, USER_INVITES, COUNT_USER_INVITES, limit, offset, {"user_id": user_id}
    )


async def expire_invites(conn: Connection) -> list[InviteRow]:
    return await fetch_all(conn, InviteRow, EXPIRE_INVITES)


async def release_user_invites(conn: Connection, user_id: uuid.UUID) -> None:
    await conn.execute(RELEASE_USER_INVITES, {"user_id": user_id})


# -- verbs: memberships ----------------------------------------------------------------


async def insert_membership(
    conn: Connection,
    membership_id: uuid.UUID,
    game_id: uuid.UUID,
    user_id: uuid.UUID,
    race_name: str,
) -> MembershipRow | None:
    """The new membership, or None when the user has one in this game already."""
    params = {
        "membership_id": membership_id,
        "game_id": game_id,
        "user_id": user_id,
        "race_name": race_name,
    }
    return await fetch_one(conn, MembershipRow, INSERT_MEMBERSHIP, params)


async def user_membership(
    conn: Connection, game_id: uuid.UUID, user_id: uuid.UUID
) -> MembershipRow | None:
    params = {"game_id": game_id, "user_id": user_id}
    return await fetch_one(conn, MembershipRow, GET_USER_MEMBERSHIP, params)


async def lock_membership(
    conn: Connection, membership_id: uuid.UUID, game_id: uuid.UUID
) -> MembershipRow | None:
    params = {"membership_id": membership_id, "game_id": game_id}
    return await fetch_one(conn, MembershipRow, LOCK_MEMBERSHIP, params)


async def end_membership(
    conn: Connection, membership_id: uuid.UUID, status: str, reason: str
) -> MembershipRow:
    params = {"membership_id": membership_id, "status": status, "reason": reason}
    return returned(await fetch_one(conn, MembershipRow, END_MEMBERSHIP, params))


async def game_memberships(
    conn: Connection, game_id: uuid.UUID, *, limit: int, offset: int = 0
) -> list[MembershipRow]:
    """Memberships of a game, whatever their status, in the order they joined."""
    params = {"game_id": game_id, "limit": limit, "offset": offset}
    return await fetch_all(conn, MembershipRow, GAME_MEMBERSHIPS, params)


async def game_memberships_page(
    conn: Connection, game_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[MembershipRow], int]:
    """A page of `game_memberships` and how many there are in all."""
    return await fetch_page(
        conn,
        MembershipRow,
        GAME_MEMBERSHIPS,
        COUNT_GAME_MEMBERSHIPS,
        limit,
        offset,
        {"game_id": game_id},
    )


async def active_memberships(conn: Connection, game_id: uuid.UUID) -> list[MembershipRow]:
    return await fetch_all(conn, MembershipRow, ACTIVE_MEMBERSHIPS, {"game_id": game_id})


async def live_memberships(conn: Connection) -> list[MembershipRow]:
    """Active memberships of every game that is not over."""
    return await fetch_all(conn, MembershipRow, LIVE_MEMBERSHIPS)


async def count_active_members(conn: Connection, game_id: uuid.UUID) -> int:
    return await fetch_count(conn, COUNT_ACTIVE_MEMBERS, {"game_id": game_id})


async def count_user_active_memberships(conn: Connection, user_id: uuid.UUID) -> int:
    """The user's active seats in games that are not over."""
    return await fetch_count(conn, COUNT_USER_ACTIVE_MEMBERSHIPS, {"user_id": user_id})


async def record_stats(
    conn: Connection, game_id: uuid.UUID, race_name: str, planets: int, population: float
) -> None:
    """A race's size at a turn: the first one seen stays as its initial, peaks only grow."""
    params = {
        "game_id": game_id,
        "race_name": race_name,
        "planets": planets,
        "population": population,
    }
    await conn.execute(RECORD_STATS, params)


async def release_user_memberships(
    conn: Connection, user_id: uuid.UUID, reason: str
) -> list[MembershipRow]:
    params = {"user_id": user_id, "reason": reason}
    return await fetch_all(conn, MembershipRow, RELEASE_USER_MEMBERSHIPS, params)


async def cancel_user_games(conn: Connection, user_id: uuid.UUID, reason: str) -> set[uuid.UUID]:
    """Cancel the user's games that never started; the ids of those cancelled."""
    cursor = await conn.execute(CANCEL_USER_GAMES, {"user_id": user_id, "reason": reason})
    return {row[0] for row in await cursor.fetchall()}
