"""What operators look at across areas (the console's reads), each in one unit of work.

Reads only: acting goes through the area's own service (lobby, runtime, accounts),
which checks and records it.
"""

from __future__ import annotations

import uuid

from galaxy.domain.errors import InvalidInput, NotFound
from galaxy.domain.lobby import Status
from galaxy.services.paging import Page, load_page
from galaxy.store import admin_views, lobby
from galaxy.store.admin_views import AdminGameRow, RouteCountRow, TurnRow
from galaxy.store.database import Connection, Database

TURNS_MAX = 200  # `?limit=` of a game's recent turns
QUERY_MAX = 200  # characters of a search text


def check_query(raw: str | None, name: str = "q") -> str | None:
    """A search text: None or empty means no filter; overlong is 400."""
    if raw is None or not raw.strip():
        return None
    if len(raw) > QUERY_MAX:
        raise InvalidInput(f"{name} must be at most {QUERY_MAX} characters", code=f"invalid_{name}")
    return raw.strip()


async def games(
    db: Database,
    page: int,
    *,
    status: str | None,
    q: str | None,
    owner_instance: str | None,
) -> Page[AdminGameRow]:
    if status is not None and status not in {s.value for s in Status}:
        raise InvalidInput(
            f"status must be one of {', '.join(s.value for s in Status)}", code="invalid_status"
        )

    async def read(conn: Connection, limit: int, offset: int) -> tuple[list[AdminGameRow], int]:
        return await admin_views.list_games(
            conn, status=status, q=q, owner_instance=owner_instance, limit=limit, offset=offset
        )

    return await load_page(db, page, read, name="admin.list_games")


async def turns(db: Database, game_id: uuid.UUID, limit: int) -> list[TurnRow]:
    """A game's newest archived turns, with how long each took; 404 for no such game."""

    async def read(conn: Connection) -> list[TurnRow]:
        if await lobby.get_game(conn, game_id) is None:
            raise NotFound("no such game", code="game_not_found")
        return await admin_views.recent_turns(conn, game_id, limit)

    return await db.run(read, name="admin.game_turns")


async def notification_routes(db: Database) -> list[RouteCountRow]:
    """How many notification routes there are of each kind, channel and status."""
    return await db.run(admin_views.route_counts, name="admin.notification_routes")
