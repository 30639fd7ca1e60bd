"""The account view's one statement (store.accounts.account_state) on a real PostgreSQL:
it reads what the separate reads of the account, its snapshot, its sanctions and its
limits read, value for value."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from galaxy.store import accounts as queries
from galaxy.store.accounts import AccountStateRow
from galaxy.store.database import Connection, Database


async def an_account(database: Database, email: str) -> uuid.UUID:
    async def insert(conn: Connection) -> uuid.UUID:
        row = await queries.insert_account(conn, email, f"user-{uuid.uuid4().hex[:8]}", "en", "UTC")
        assert row is not None
        return row.user_id

    return await database.run(insert)


async def both_ways(
    database: Database, user_id: uuid.UUID
) -> tuple[AccountStateRow, tuple[object, ...]]:
    async def read(conn: Connection) -> tuple[AccountStateRow, tuple[object, ...]]:
        one = await queries.account_state(conn, user_id)
        assert one is not None
        separate = (
            await queries.get_account(conn, user_id),
            await queries.get_snapshot(conn, user_id),
            await queries.active_sanctions(conn, user_id),
            await queries.active_limits(conn, user_id),
        )
        return one, separate

    return await database.run(read)


async def test_a_new_account_has_nothing_in_force(database: Database) -> None:
    user_id = await an_account(database, "plain@example.org")
    one, (account, snapshot, sanctions, limits) = await both_ways(database, user_id)
    assert one.account == account and one.snapshot is None is snapshot
    assert one.sanctions == sanctions == [] and one.limits == limits == []


async def test_one_statement_reads_what_the_separate_reads_read(database: Database) -> None:
    user_id, other = [await an_account(database, f"{n}@example.org") for n in ("a", "b")]
    soon = datetime.now(UTC) + timedelta(days=3)

    async def decide(conn: Connection) -> None:
        await queries.record_entitlement(
            conn, user_id, "patron", 10, source="admin", actor="op", reason="paid"
        )
        for kind, expires in (("lobby_ban", soon), ("chat_mute", None), ("old_ban", soon)):
            await queries.record_sanction(
                conn, user_id, kind, lift=False, reason=f"{kind}!", actor="op", expires_at=expires
            )
        await queries.record_sanction(
            conn, other, "lobby_ban", lift=False, reason="not theirs", actor="op", expires_at=None
        )
        for kind, value in (("max_games", 3), ("max_pending", 7)):
            await queries.record_limit(
                conn, user_id, kind, value, reason="r", actor="op", expires_at=soon
            )
        # One sanction has run out: neither way reads it.
        await conn.execute(
            "UPDATE sanction_active SET expires_at = now() - interval '1 minute'"
            " WHERE user_id = %s AND kind = 'old_ban'",
            (user_id,),
        )

    await database.run(decide)
    one, (account, snapshot, sanctions, limits) = await both_ways(database, user_id)
    assert one.account == account and one.snapshot == snapshot
    assert snapshot is not None and snapshot.tier == "patron"
    assert one.sanctions == sanctions and [s.kind for s in sanctions] == ["chat_mute", "lobby_ban"]
    assert one.limits == limits and [(x.kind, x.value) for x in limits] == [
        ("max_games", 3),
        ("max_pending", 7),
    ]
    # The very values: the same types and time zones, so the views print the same text.
    assert [s.applied_at.isoformat() for s in one.sanctions] == [
        s.applied_at.isoformat() for s in sanctions
    ]


async def test_no_such_account_is_no_row(database: Database) -> None:
    async def read(conn: Connection) -> AccountStateRow | None:
        return await queries.account_state(conn, uuid.uuid4())

    assert await database.run(read) is None
