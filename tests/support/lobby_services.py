"""The lobby's services on a real PostgreSQL, without HTTP or a runtime: component tests
drive them directly (a game's runtime reports are `LobbyEvents` calls)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from galaxy.domain.lobby import Action
from galaxy.services.accounts import Accounts
from galaxy.services.lobby import Enrollment, Games, LobbyContext, LobbyEvents, RuntimeSnapshot
from galaxy.services.lobby.events import RaceStats
from galaxy.services.notifications import Notifier
from galaxy.services.push import PushHub
from galaxy.services.race_names import RaceNames
from galaxy.services.sessions import Sessions
from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.services.user_hooks import UserHooks
from galaxy.store import race_names as name_queries
from galaxy.store.database import Connection, Database
from galaxy.store.race_names import RaceNameRow


@dataclass
class Lobby:
    db: Database
    ctx: LobbyContext
    games: Games
    enrollment: Enrollment
    events: LobbyEvents
    accounts: Accounts

    async def user(self, email: str) -> uuid.UUID:
        async def work(conn: Connection, after: AfterCommit) -> uuid.UUID:
            account, _ = await self.accounts.ensure_by_email(
                conn, after, email, language="en", time_zone="UTC", name_retries=10
            )
            return account.user_id

        return await run_unit(self.db, work, name="test.user")

    async def running_game(
        self, owner: uuid.UUID, players: list[tuple[uuid.UUID, str]], visibility: str = "public"
    ) -> uuid.UUID:
        """A game whose players are seated and whose engine reported turn 0."""
        body = {"name": "End", "min_players": 2, "auto_approve": True, "visibility": visibility}
        game_id = (await self.games.create(owner, body)).game_id
        await self.games.act(game_id, Action.OPEN_ENROLLMENT, owner=owner)
        for user_id, race in players:
            if visibility == "private":
                invite = await self.enrollment.invite(owner, game_id, user_id, None)
                await self.enrollment.answer(user_id, game_id, invite.invite_id, race_name=race)
            else:
                await self.enrollment.apply(user_id, game_id, race, "")
        await self.games.act(game_id, Action.READY_TO_START, owner=owner)
        await self.games.act(game_id, Action.START, owner=owner)
        await self.events.on_start_result(game_id, ok=True)
        start = [RaceStats(race, 3, 1000.0) for _, race in players]
        await self.events.on_runtime_snapshot(RuntimeSnapshot(game_id, 0, "running", start))
        return game_id

    async def names_of(self, user_id: uuid.UUID) -> list[tuple[str, str]]:
        async def read(conn: Connection) -> list[RaceNameRow]:
            return await name_queries.of_owner(conn, user_id)

        return [(row.name, row.status) for row in await self.db.run(read)]

    async def finished_notices(self, game_id: uuid.UUID) -> list[tuple[object, ...]]:
        async def read(conn: Connection) -> list[tuple[object, ...]]:
            cursor = await conn.execute(
                "SELECT n.payload, r.channel, r.user_id FROM notifications n"
                " JOIN notification_routes r USING (notification_id)"
                " WHERE n.kind = 'game.finished' AND n.idempotency_key = %s"
                " ORDER BY r.channel, r.user_id",
                (f"finished:{game_id}",),
            )
            return [tuple(row) for row in await cursor.fetchall()]

        return await self.db.run(read)


def lobby_of(database: Database) -> Lobby:
    """The lobby's services over `database`, wired as build_services does (no runtime)."""
    notifier = Notifier(database, admin_email=None)
    sessions = Sessions(database, PushHub(freshness_window=60, capacity=10, first_cursor=1))
    accounts = Accounts(database, sessions, UserHooks())
    names = RaceNames(database, accounts, notifier, pending_ttl=3600)
    ctx = LobbyContext(database, accounts, notifier, names, invite_ttl=3600)
    return Lobby(database, ctx, Games(ctx), Enrollment(ctx), LobbyEvents(ctx), accounts)
