"""Games: create, show, change settings, and move through the state machine."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from galaxy.domain.errors import Conflict, InvalidInput, NotFound
from galaxy.domain.lobby import ENROLLING, Action, GameSettings, Status, game_settings
from galaxy.services.lobby.context import LobbyContext
from galaxy.services.lobby.ending import STOPPED, settle_end
from galaxy.services.paging import Page, load_page
from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.store import lobby as store
from galaxy.store.database import Connection
from galaxy.store.lobby import ApplicationRow, GameRow, GameSightRow, InviteRow, MembershipRow

log = structlog.get_logger("galaxy.lobby")

# What the owner may do with a plain POST, and the state machine's name for it.
OWNER_ACTIONS = {
    "open-enrollment": Action.OPEN_ENROLLMENT,
    "ready-to-start": Action.READY_TO_START,
    "start": Action.START,
    "pause": Action.PAUSE,
    "resume": Action.RESUME,
    "cancel": Action.CANCEL,
    "retry-start": Action.RETRY_START,
}
STARTS = frozenset({Action.START, Action.RETRY_START, Action.FORCE_START})


class GameStarter(Protocol):
    """The runtime's entry points: a game moved to `starting`, or was stopped by an operator."""

    async def start_game(self, game_id: uuid.UUID) -> None: ...

    async def stop_game(self, game_id: uuid.UUID) -> None: ...


class VersionCheck(Protocol):
    """The engine version registry, as the lobby needs it: a version a game names must
    be registered and enabled (400 otherwise), told when the game is created or changed
    rather than when its engine fails to start."""

    def resolve(self, version: str | None) -> object: ...


class NoRuntime:
    """No runtime wired (tests of the lobby alone): a starting game waits for a report."""

    async def start_game(self, game_id: uuid.UUID) -> None:
        log.info("lobby.start_requested", game_id=str(game_id))

    async def stop_game(self, game_id: uuid.UUID) -> None:
        log.info("lobby.stop_requested", game_id=str(game_id))


@dataclass(frozen=True)
class Pending:
    """What waits for a game's owner: applications to decide, invites not yet answered."""

    applications: list[ApplicationRow]
    invites: list[InviteRow]


@dataclass(frozen=True)
class Sight:
    """A game as one user may see it: `pending` only for its owner."""

    game: GameRow
    viewer_role: str
    pending: Pending | None


@dataclass(frozen=True)
class GameRecord:
    """A game for operators: every membership, and what is pending."""

    game: GameRow
    memberships: list[MembershipRow]
    pending: Pending


def settings_of(game: GameRow) -> GameSettings:
    return GameSettings(
        name=game.name,
        description=game.description,
        visibility=game.visibility,
        min_players=game.min_players,
        max_players=game.max_players,
        auto_approve=game.auto_approve,
        enrollment_deadline=game.enrollment_deadline,
        turn_schedule=game.turn_schedule,
        engine_version=game.engine_version,
    )


class Games:
    def __init__(
        self,
        ctx: LobbyContext,
        starter: GameStarter | None = None,
        versions: VersionCheck | None = None,
    ) -> None:
        self.ctx = ctx
        self.starter: GameStarter = starter or NoRuntime()
        self.versions = versions

    def _check_version(self, settings: GameSettings) -> None:
        # No version named: the game gets the default when it starts, whatever it is then.
        if self.versions is not None and settings.engine_version is not None:
            self.versions.resolve(settings.engine_version)

    async def create(self, owner: uuid.UUID, body: dict[str, Any]) -> GameRow:
        settings = game_settings(body)
        self._check_version(settings)
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> GameRow:
            await ctx.live_account(conn, owner)
            await ctx.not_banned(conn, owner)
            owned = await store.count_owned_live(conn, owner)
            allowed = await ctx.quota(conn, owner, "max_owned_games")
            if owned >= allowed:
                raise Conflict(f"you may own {allowed} unfinished games", code="quota_exceeded")
            game_id = uuid.uuid4()
            await store.insert_game(conn, game_id, owner, settings.to_row())
            return await ctx.refresh(conn, after, game_id)

        game = await run_unit(ctx.db, work, name="lobby.create_game")
        log.info("lobby.game_created", game_id=str(game.game_id), owner=str(owner))
        return game

    async def create_house(self, admin: str, body: dict[str, Any]) -> GameRow:
        """A house game: made by an operator, owned by no player, public, open for
        enrollment at once and seating applicants without an owner's approval (there is
        none to give it); operators start and stop it."""
        if body.get("visibility", "public") != "public":
            raise InvalidInput("a house game is public", code="invalid_visibility")
        if body.get("auto_approve", True) is not True:
            # No owner reads its applications, and operators have no approval route.
            raise InvalidInput("a house game seats applicants itself", code="invalid_auto_approve")
        settings = game_settings({"auto_approve": True, **body})
        self._check_version(settings)
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> GameRow:
            game_id = uuid.uuid4()
            await store.insert_game(conn, game_id, None, settings.to_row())
            game = await ctx.game(conn, game_id)
            return await ctx.move(
                conn, after, game, Action.OPEN_ENROLLMENT, reason=f"created by admin:{admin}"
            )

        game = await run_unit(ctx.db, work, name="lobby.create_house_game")
        log.info("lobby.house_game_created", game_id=str(game.game_id), admin=admin)
        return game

    async def view(self, viewer: uuid.UUID, game_id: uuid.UUID) -> Sight:
        """The game as `viewer` may see it; a private game is 404 to strangers."""
        ctx = self.ctx

        async def read(conn: Connection) -> GameSightRow | None:
            return await store.game_sight(conn, game_id, viewer)

        found = await ctx.db.read(read, name="lobby.view_game")  # one statement
        if found is None or found.viewer_role is None:
            raise NotFound("no such game", code="game_not_found")
        pending = Pending(found.applications, found.invites)
        return Sight(
            found.game, found.viewer_role, pending if found.viewer_role == "owner" else None
        )

    async def admin_view(self, game_id: uuid.UUID) -> GameRecord:
        ctx = self.ctx

        async def read(conn: Connection) -> GameRecord:
            game = await ctx.game(conn, game_id)
            memberships = await store.game_memberships(conn, game_id, limit=1000)
            return GameRecord(game, memberships, await _pending(conn, game_id))

        return await ctx.db.run(read, name="lobby.admin_view_game")

    async def listing(
        self, which: str, page: int, *, status: str | None, user_id: uuid.UUID | None = None
    ) -> Page[GameRow]:
        """`public`: everyone's public games; `mine`: owned or played; `all`: operators."""
        if status is not None and status not in {s.value for s in Status}:
            raise _bad_status()

        async def read(conn: Connection, limit: int, offset: int) -> tuple[list[GameRow], int]:
            return await store.list_games(
                conn, which, status=status, user_id=user_id, limit=limit, offset=offset
            )

        return await load_page(self.ctx.db, page, read, name=f"lobby.list_{which}")

    async def update(self, user_id: uuid.UUID, game_id: uuid.UUID, body: dict[str, Any]) -> GameRow:
        """Change settings while the game is a draft or enrolling."""
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> GameRow:
            game = await ctx.game(conn, game_id, lock=True)
            await ctx.owner_only(conn, game, user_id)
            if game.status not in (Status.DRAFT, *ENROLLING):
                raise Conflict(
                    f"settings are fixed once a game is {game.status.replace('_', ' ')}",
                    code=f"game_{game.status}",
                )
            settings = game_settings(body, settings_of(game))
            if "engine_version" in body:  # a version chosen before it was disabled may stay
                self._check_version(settings)
            members = await store.count_active_members(conn, game_id)
            if settings.max_players < members:
                raise Conflict(
                    f"{members} players have joined; max_players cannot go below that",
                    code="below_members",
                )
            await store.update_settings(conn, game_id, settings.to_row())
            return await ctx.refresh(conn, after, game_id)

        return await run_unit(ctx.db, work, name="lobby.update_game")

    async def act(
        self,
        game_id: uuid.UUID,
        action: Action,
        *,
        owner: uuid.UUID | None = None,
        reason: str | None = None,
    ) -> GameRow:
        """Move a game; with `owner`, only that user may (403 otherwise)."""
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> GameRow:
            game = await ctx.game(conn, game_id, lock=True)
            if owner is not None:
                await ctx.owner_only(conn, game, owner)
            if action is Action.READY_TO_START:
                members = await store.count_active_members(conn, game_id)
                if members < game.min_players:
                    raise Conflict(
                        f"{members} of at least {game.min_players} players have joined",
                        code="not_enough_players",
                    )
            moved = await ctx.move(conn, after, game, action, reason)
            if action is Action.CANCEL:  # never played: every name goes
                await ctx.race_names.release_game(conn, after, game_id)
            elif action is Action.FORCE_STOP:  # ended as if played out, without a winner
                return await settle_end(ctx, conn, after, game_id, winner=None, result=STOPPED)
            return moved

        game = await run_unit(ctx.db, work, name=f"lobby.{action.value}")
        log.info("lobby.game_moved", game_id=str(game_id), action=action.value, status=game.status)
        if action in STARTS:
            await self.starter.start_game(game_id)
        elif action is Action.FORCE_STOP:
            await self.starter.stop_game(game_id)
        return game


async def _pending(conn: Connection, game_id: uuid.UUID) -> Pending:
    applications = await store.pending_applications(conn, game_id)
    return Pending(applications, await store.pending_invites(conn, game_id))


def _bad_status() -> Exception:
    return InvalidInput(
        f"status must be one of {', '.join(s.value for s in Status)}", code="invalid_status"
    )
