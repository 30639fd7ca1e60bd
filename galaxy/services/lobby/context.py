"""What every lobby unit of work shares: lookups, permissions, the cache, notifications."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from galaxy.domain.accounts import DEFAULT_LIMITS
from galaxy.domain.errors import Conflict, Forbidden, NotFound
from galaxy.domain.lobby import OVER, Action, Status, transition
from galaxy.domain.notifications import CATALOG, Channel, Intent, Recipient
from galaxy.services.accounts import Accounts
from galaxy.services.coherence import GAMES
from galaxy.services.notifications import Notifier
from galaxy.services.race_names import RaceNames
from galaxy.services.unit_of_work import AfterCommit
from galaxy.store import accounts as account_queries
from galaxy.store import lobby as store
from galaxy.store.database import Connection, Database
from galaxy.store.lobby import GameRow, MembershipRow


@dataclass(frozen=True)
class Reader:
    """A member reading a game (reports, mail): the race they play or played, and the
    game's status (a game that is over is read, never written)."""

    race_name: str
    game_status: str


@dataclass
class LiveGame:
    """A game that is not over, and who plays in it (the cache's entry)."""

    game: GameRow
    members: dict[uuid.UUID, MembershipRow] = field(default_factory=dict)  # by user


class LobbyCache:
    """Live games and their active members, warmed at start, written after each commit
    (and re-read for another instance's change: services/coherence.py)."""

    def __init__(self) -> None:
        self.games: dict[uuid.UUID, LiveGame] = {}

    def put(self, game: GameRow, members: Iterable[MembershipRow]) -> None:
        if game.status in OVER:
            self.games.pop(game.game_id, None)
            return
        self.games[game.game_id] = LiveGame(game, {m.user_id: m for m in members})

    def forget(self, game_id: uuid.UUID) -> None:
        self.games.pop(game_id, None)

    def membership(self, game_id: uuid.UUID, user_id: uuid.UUID) -> MembershipRow | None:
        live = self.games.get(game_id)
        return live.members.get(user_id) if live else None


@dataclass
class LobbyContext:
    db: Database
    accounts: Accounts
    notifier: Notifier
    race_names: RaceNames
    invite_ttl: float
    cache: LobbyCache = field(default_factory=LobbyCache)

    async def warm(self) -> None:
        async def read(conn: Connection) -> tuple[list[GameRow], list[MembershipRow]]:
            games = await store.live_games(conn)
            members = await store.live_memberships(conn)
            return games, members

        games, members = await self.db.run(read, name="lobby.warm")
        by_game: dict[uuid.UUID, list[MembershipRow]] = {}
        for member in members:
            by_game.setdefault(member.game_id, []).append(member)
        fresh = LobbyCache()
        for game in games:
            fresh.put(game, by_game.get(game.game_id, []))
        self.cache.games = fresh.games  # whole: a game over since the last warm goes too

    async def reload(self, game_ids: Sequence[str]) -> None:
        """Re-read these games and their members (another instance changed them)."""
        wanted = [uuid.UUID(game_id) for game_id in game_ids]

        async def read(
            conn: Connection,
        ) -> list[tuple[uuid.UUID, GameRow | None, list[MembershipRow]]]:
            found = []
            for game_id in wanted:
                game = await store.get_game(conn, game_id)
                members = await store.active_memberships(conn, game_id) if game else []
                found.append((game_id, game, members))
            return found

        for game_id, game, members in await self.db.run(read, name="lobby.reload"):
            if game is None:
                self.cache.forget(game_id)
            else:
                self.cache.put(game, members)

    # -- lookups --------------------------------------------------------------------

    async def live_account(self, conn: Connection, user_id: uuid.UUID) -> None:
        row = await account_queries.get_account(conn, user_id)
        if row is None or row.deleted_at is not None:
            raise NotFound("no such account", code="account_not_found")
        if row.permanent_block:
            raise Forbidden("this account is blocked", code="account_blocked")

    async def not_banned(self, conn: Connection, user_id: uuid.UUID) -> None:
        """Refuses a player who may not take part in games now: banned from the lobby, or
        suspended (a suspended account's session is gone, but its id may still arrive)."""
        kinds = {s.kind for s in await account_queries.active_sanctions(conn, user_id)}
        if "login_suspension" in kinds:
            raise Forbidden("this account is suspended", code="login_suspended")
        if "lobby_ban" in kinds:
            raise Forbidden("you may not take part in games for now", code="lobby_banned")

    async def quota(self, conn: Connection, user_id: uuid.UUID, kind: str) -> int:
        for limit in await account_queries.active_limits(conn, user_id):
            if limit.kind == kind:
                return limit.value
        return DEFAULT_LIMITS[kind]

    async def game(self, conn: Connection, game_id: uuid.UUID, *, lock: bool = False) -> GameRow:
        row = await store.get_game(conn, game_id, lock=lock)
        if row is None:
            raise NotFound("no such game", code="game_not_found")
        return row

    def member_race(self, game_id: uuid.UUID, user_id: uuid.UUID) -> str:
        """The race `user_id` plays in `game_id`, from the cache; 403 for a non-member,
        404 when the game is private (a stranger does not learn that it exists)."""
        member = self.cache.membership(game_id, user_id)
        if member is None:
            live = self.cache.games.get(game_id)
            if live is not None and live.game.visibility == "private":
                raise NotFound("no such game", code="game_not_found")
            raise Forbidden("you are not playing this game", code="not_a_member")
        return member.race_name

    async def reader(self, game_id: uuid.UUID, user_id: uuid.UUID) -> Reader:
        """Who reads `game_id`: a live game's member from the cache, a game that is over
        (not in the cache) from its memberships in the store, which stay as they were at
        the end. 403 `not_a_member` for anyone else, 404 when the game is private or
        does not exist (a stranger does not learn that it exists)."""
        live = self.cache.games.get(game_id)
        if live is not None:
            return Reader(self.member_race(game_id, user_id), live.game.status)

        async def read(conn: Connection) -> tuple[GameRow | None, MembershipRow | None]:
            game = await store.get_game(conn, game_id)
            member = await store.user_membership(conn, game_id, user_id) if game else None
            return game, member

        game, member = await self.db.run(read, name="lobby.reader")
        if game is None:
            raise NotFound("no such game", code="game_not_found")
        if member is not None and member.status == "active":
            return Reader(member.race_name, game.status)
        if game.visibility == "private":
            raise NotFound("no such game", code="game_not_found")
        raise Forbidden("you are not playing this game", code="not_a_member")

    async def owner_only(self, conn: Connection, game: GameRow, user_id: uuid.UUID) -> None:
        """403 `not_owner` for anyone but the owner; 404 for a stranger to a private game."""
        if game.owner_user_id == user_id:
            return
        await self.not_hidden(conn, game, user_id)
        raise Forbidden("only the game's owner may do that", code="not_owner")

    async def viewer_role(self, conn: Connection, game: GameRow, viewer: uuid.UUID) -> str | None:
        """How `viewer` stands to `game`: owner, member (active), invited (pending), public
        (anyone, once a public game has left its draft), or None: a stranger."""
        if game.owner_user_id == viewer:
            return "owner"
        role = await store.viewer_role(conn, game.game_id, viewer)
        if role is not None:
            return role
        if game.visibility == "public" and game.status != Status.DRAFT:
            return "public"
        return None

    async def not_hidden(self, conn: Connection, game: GameRow, user_id: uuid.UUID) -> None:
        """A private game is 404 to a stranger on every path, as the game view answers
        (a former member is a stranger again)."""
        if game.visibility == "private" and await self.viewer_role(conn, game, user_id) is None:
            raise NotFound("no such game", code="game_not_found")

    # -- changes --------------------------------------------------------------------

    async def move(
        self,
        conn: Connection,
        after: AfterCommit,
        game: GameRow,
        action: Action,
        reason: str | None = None,
    ) -> GameRow:
        """Apply `action` to a locked game (409 from the wrong state) and refresh the cache."""
        target = transition(game.status, action)
        if action is Action.STARTED and reason is None:
            reason = game.status_reason  # why it was started (an operator's words) stays
        await store.set_status(conn, game.game_id, target.value, reason)
        return await self.refresh(conn, after, game.game_id)

    async def refresh(self, conn: Connection, after: AfterCommit, game_id: uuid.UUID) -> GameRow:
        """Re-read the game and its members; the cache takes them once committed."""
        game = await self.game(conn, game_id)
        members = await store.active_memberships(conn, game_id)
        after.add(lambda: self.cache.put(game, members))
        after.invalidate(GAMES, str(game_id))
        return game

    async def seat_free(self, conn: Connection, game: GameRow) -> None:
        """On a locked game: 409 `game_full` when every seat is taken.

        Counted by a statement of its own, after the lock: in READ COMMITTED
        it sees the member that the transaction we waited for has just added.
        """
        members = await store.count_active_members(conn, game.game_id)
        if members >= game.max_players:
            raise Conflict("every seat of this game is taken", code="game_full")

    async def notify(
        self,
        conn: Connection,
        after: AfterCommit,
        kind: str,
        key: str,
        payload: Mapping[str, Any],
        user_ids: Iterable[uuid.UUID],
    ) -> None:
        """A notification to each user, written in this transaction (their addresses
        looked up only when the kind goes by mail)."""
        users = sorted(set(user_ids))
        if not users:
            return
        catalogued = CATALOG.get(kind)  # an unknown kind is the notifier's to record
        mailed = catalogued is None or Channel.EMAIL in catalogued.channels
        emails = await account_queries.emails_of(conn, users) if mailed else {}
        recipients = tuple(Recipient(str(u), emails.get(u)) for u in users)
        await self.notifier.submit(Intent(kind, key, dict(payload), recipients), conn=conn)
        after.add(self.notifier.notify)


def ensure(condition: bool, error: Exception) -> None:
    if not condition:
        raise error
