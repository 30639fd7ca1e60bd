"""The race-name directory: reservations while playing, registration after a good game.

Tiers: a `reservation` holds a name for a game while its owner plays it; when
the game finishes, a member whose planets and population both rose above
their starting values gets a `pending_registration` for
`BACKEND_LOBBY_PENDING_REGISTRATION_TTL`, which they may turn into a
`registered` name within their entitlement; everything else is released.
One live entry per canonical key, across tiers: a per-key advisory lock
serialises claims, the partial UNIQUE index is the last word. The live keys
are cached (warmed, written through, and re-read for another instance's
change: services/coherence.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import structlog

from galaxy.domain.errors import Conflict, NotFound
from galaxy.domain.notifications import Intent, Recipient
from galaxy.domain.race_names import canonical
from galaxy.services.accounts import Accounts
from galaxy.services.coherence import RACE_NAMES
from galaxy.services.notifications import Notifier
from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.store import accounts as account_queries
from galaxy.store import race_names as queries
from galaxy.store.database import Connection, Database
from galaxy.store.lobby import MembershipRow
from galaxy.store.race_names import RaceNameRow

log = structlog.get_logger("galaxy.race_names")


class RaceNames:
    def __init__(
        self, db: Database, accounts: Accounts, notifier: Notifier, *, pending_ttl: float
    ) -> None:
        self._db = db
        self._accounts = accounts
        self._notifier = notifier
        self.pending_ttl = pending_ttl
        self.keys: set[str] = set()  # live canonical keys, for cheap availability hints

    async def warm(self) -> None:
        self.keys = await self._db.run(self._rekeyed, name="race_names.warm")
        log.info("race_names.warmed", live=len(self.keys))

    async def _rekeyed(self, conn: Connection) -> set[str]:
        """The live keys, after re-keying entries stored under an older key rule.

        Keys are stored, so a better `canonical` (a look-alike it now catches)
        applies to existing names only once they are re-keyed; that happens
        here, at start, in one transaction. Two live names that the new rule
        finds alike both stay (players hold them); the later keeps its old key,
        and the operators are told; its holder keeps using it (`_entry_for`).
        """
        entries = await queries.live_names(conn)
        keys = {stored for _, _, stored in entries}
        for name_id, name, stored in entries:
            key = canonical(name)
            if key == stored:
                continue
            if key in keys or not await queries.rekey(conn, name_id, stored, key):
                log.warning("race_names.lookalike_kept", name_id=str(name_id), key=key)
                continue
            keys.discard(stored)
            keys.add(key)
            log.info("race_names.rekeyed", name_id=str(name_id))
        return keys

    async def rewarm(self) -> None:
        """Every live key again, as stored (re-keying is the start's, in `warm`)."""
        self.keys = set(await self._db.read(queries.live_keys, name="race_names.rewarm"))

    async def reload(self, keys: Sequence[str]) -> None:
        """Re-read whether these keys are live (another instance changed them)."""
        wanted = list(keys)
        live = await self._db.read(
            lambda conn: queries.live_among(conn, wanted), name="race_names.reload"
        )
        for key in wanted:
            if key in live:
                self.keys.add(key)
            else:
                self.keys.discard(key)

    def _forget(self, rows: list[RaceNameRow]) -> None:
        for row in rows:
            self.keys.discard(row.canonical)

    @staticmethod
    def _released(after: AfterCommit, rows: list[RaceNameRow]) -> None:
        if rows:
            after.invalidate(RACE_NAMES, *(row.canonical for row in rows))

    # -- inside the lobby's units of work -----------------------------------------

    async def _locked_entry(self, conn: Connection, name: str) -> tuple[str, RaceNameRow | None]:
        key = canonical(name)
        await queries.lock_key(conn, key)
        return key, await queries.live(conn, key)

    async def _entry_for(
        self, conn: Connection, name: str, owner: uuid.UUID
    ) -> tuple[str, RaceNameRow | None]:
        """The live entry that decides `name` for `owner`: the key's, unless the owner holds
        this very name under an older key (a look-alike two players held before the key
        rule changed, which re-keying left where it was)."""
        key, entry = await self._locked_entry(conn, name)
        if entry is not None and entry.owner_user_id != owner:
            own = await queries.live_of_owner_named(conn, owner, name)
            if own is not None:
                return own.canonical, own
        return key, entry

    async def check_available(self, conn: Connection, name: str, owner: uuid.UUID) -> None:
        """409 `race_name_taken` when someone else holds this name or a look-alike."""
        _, entry = await self._entry_for(conn, name, owner)
        if entry is not None and entry.owner_user_id != owner:
            raise Conflict(
                f"the race name {name!r} (or one that looks like it) is taken",
                code="race_name_taken",
            )

    async def claim(
        self,
        conn: Connection,
        after: AfterCommit,
        name: str,
        owner: uuid.UUID,
        game_id: uuid.UUID,
    ) -> RaceNameRow:
        """Reserve `name` for `owner` in `game_id`; a name the owner holds already is reused."""
        key, entry = await self._entry_for(conn, name, owner)
        if entry is not None:
            if entry.owner_user_id != owner:
                raise Conflict(
                    f"the race name {name!r} (or one that looks like it) is taken",
                    code="race_name_taken",
                )
            return entry
        row = await queries.reserve(conn, name, key, owner, game_id)
        after.add(lambda: self.keys.add(key))
        after.invalidate(RACE_NAMES, key)
        return row

    async def release_game(self, conn: Connection, after: AfterCommit, game_id: uuid.UUID) -> None:
        """A game that will not be played (cancelled): its reservations go."""
        released = [
            await queries.set_status(conn, row.name_id, "released")
            for row in await queries.game_reservations(conn, game_id)
        ]
        after.add(lambda: self._forget(released))
        self._released(after, released)

    async def release_member(
        self, conn: Connection, after: AfterCommit, game_id: uuid.UUID, member: MembershipRow
    ) -> None:
        """A member who left: their reservation for this game goes."""
        released = [
            await queries.set_status(conn, row.name_id, "released")
            for row in await queries.game_reservations(conn, game_id)
            if row.owner_user_id == member.user_id
        ]
        after.add(lambda: self._forget(released))
        self._released(after, released)

    async def settle_finished(
        self,
        conn: Connection,
        after: AfterCommit,
        game_id: uuid.UUID,
        members: list[MembershipRow],
    ) -> list[RaceNameRow]:
        """At the end of a game: promote those who grew, release the rest."""
        grew = {m.user_id for m in members if _grew(m)}
        expires = datetime.now(UTC) + timedelta(seconds=self.pending_ttl)
        pending, released = [], []
        for row in await queries.game_reservations(conn, game_id):
            if row.owner_user_id in grew:
                pending.append(
                    await queries.set_status(conn, row.name_id, "pending_registration", expires)
                )
            else:
                released.append(await queries.set_status(conn, row.name_id, "released"))
        emails = await account_queries.emails_of(conn, [row.owner_user_id for row in pending])
        for row in pending:
            assert row.expires_at is not None
            await self._notifier.submit(
                Intent(
                    "lobby.race_name.pending",
                    f"race-name-pending:{row.name_id}",
                    {"race_name": row.name, "expires_at": row.expires_at.isoformat()},
                    (Recipient(str(row.owner_user_id), emails.get(row.owner_user_id)),),
                ),
                conn=conn,
            )
        after.add(lambda: self._forget(released))
        self._released(after, released)
        after.add(self._notifier.notify)
        return pending

    async def release_user(self, conn: Connection, after: AfterCommit, user_id: uuid.UUID) -> None:
        released = await queries.release_owner(conn, user_id)
        after.add(lambda: self._forget(released))
        self._released(after, released)

    # -- the user surface ------------------------------------------------------------

    async def of_user(self, user_id: uuid.UUID) -> list[RaceNameRow]:
        async def read(conn: Connection) -> list[RaceNameRow]:
            return await queries.of_owner(conn, user_id)

        return await self._db.run(read, name="race_names.of_user")

    async def register(self, user_id: uuid.UUID, name: str) -> RaceNameRow:
        """Turn the user's pending registration of `name` into a registered name."""

        async def work(conn: Connection, after: AfterCommit) -> RaceNameRow:
            _, entry = await self._entry_for(conn, name, user_id)
            if entry is None or entry.owner_user_id != user_id:
                raise NotFound(f"you hold no race name {name!r}", code="race_name_not_found")
            if entry.status == "registered":
                raise Conflict(f"{entry.name!r} is registered already", code="race_name_registered")
            if entry.status != "pending_registration":
                raise Conflict(
                    f"{entry.name!r} can be registered once a game with it ends well",
                    code="race_name_not_pending",
                )
            snapshot = await account_queries.get_snapshot(conn, user_id)
            allowed = snapshot.max_registered_race_names if snapshot else 1
            if await queries.registered_count(conn, user_id) >= allowed:
                raise Conflict(
                    f"your tier allows {allowed} registered race name(s)",
                    code="race_name_limit",
                )
            row = await queries.set_status(conn, entry.name_id, "registered")
            await self._notifier.submit(
                Intent(
                    "lobby.race_name.registered",
                    f"race-name-registered:{row.name_id}",
                    {"race_name": row.name},
                    (Recipient(str(user_id)),),
                ),
                conn=conn,
            )
            after.add(self._notifier.notify)
            return row

        return await run_unit(self._db, work, name="race_names.register")

    # -- the sweeper -------------------------------------------------------------------

    async def expire_pending(self) -> int:
        async def work(conn: Connection, after: AfterCommit) -> int:
            expired = await queries.expire_pending(conn)
            for row in expired:
                await self._notifier.submit(
                    Intent(
                        "lobby.race_name.expired",
                        f"race-name-expired:{row.name_id}",
                        {"race_name": row.name},
                        (Recipient(str(row.owner_user_id)),),
                    ),
                    conn=conn,
                )
            after.add(lambda: self._forget(expired))
            self._released(after, expired)
            if expired:
                after.add(self._notifier.notify)
            return len(expired)

        return await run_unit(self._db, work, name="race_names.expire")


def _grew(member: MembershipRow) -> bool:
    """Both peaks above where the member started (ENGINE.md's capability rule)."""
    if None in (
        member.initial_planets,
        member.initial_population,
        member.max_planets,
        member.max_population,
    ):
        return False
    return (
        member.max_planets > member.initial_planets  # type: ignore[operator]
        and member.max_population > member.initial_population  # type: ignore[operator]
    )
