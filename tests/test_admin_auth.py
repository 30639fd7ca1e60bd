"""Admin credentials: bootstrap, bcrypt off the loop, and the short verified cache."""

from __future__ import annotations

import bcrypt
import pytest
import trio

from galaxy.services import admin_auth
from galaxy.services.admin_auth import AdminAuthenticator
from galaxy.store import admin_accounts
from galaxy.store.database import Connection, Database


async def test_bootstrap_is_idempotent(database: Database) -> None:
    first = AdminAuthenticator(database)
    await first.warm()
    assert await first.ensure_bootstrap("root", "pw-one")
    second = AdminAuthenticator(database)
    await second.warm()
    assert not await second.ensure_bootstrap("root", "pw-two")  # existing account kept
    rows = await database.run(admin_accounts.list_all)
    assert [row.username for row in rows] == ["root"]
    assert await second.verify("root", "pw-one") is not None
    assert await second.verify("root", "pw-two") is None


async def test_passwords_are_stored_as_bcrypt_cost_12(database: Database) -> None:
    auth = AdminAuthenticator(database)
    await auth.ensure_bootstrap("root", "secret")
    (row,) = await database.run(admin_accounts.list_all)
    assert row.password_hash.startswith(b"$2b$12$")
    assert b"secret" not in row.password_hash


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every bcrypt check made, by password (a spy on the real bcrypt)."""
    made: list[bytes] = []
    real_checkpw = bcrypt.checkpw

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        made.append(password)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(admin_auth.bcrypt, "checkpw", counting_checkpw)
    return made


async def test_a_verified_password_is_not_rehashed_within_the_cache_window(
    database: Database, checks: list[bytes]
) -> None:
    auth = AdminAuthenticator(database)
    await auth.ensure_bootstrap("root", "secret")
    for _ in range(5):
        assert await auth.verify("root", "secret") is not None
    assert len(checks) == 1
    # a wrong password is never served from the cache
    assert await auth.verify("root", "secret!") is None
    assert len(checks) == 2


async def test_disabled_and_unknown_accounts_are_refused(database: Database) -> None:
    auth = AdminAuthenticator(database)
    await auth.ensure_bootstrap("root", "secret")

    async def disable(conn: Connection) -> None:
        await conn.execute("UPDATE admin_accounts SET disabled_at = now() WHERE username = 'root'")

    await database.run(disable)
    await auth.warm()
    assert await auth.verify("root", "secret") is None
    assert await auth.verify("ghost", "secret") is None


async def test_concurrent_checks_of_the_same_credentials_share_one_bcrypt(
    database: Database, checks: list[bytes]
) -> None:
    auth = AdminAuthenticator(database)
    await auth.ensure_bootstrap("root", "secret")
    results: list[object] = []

    async def verify() -> None:
        results.append(await auth.verify("root", "secret"))

    async with trio.open_nursery() as nursery:
        for _ in range(8):
            nursery.start_soon(verify)
    assert len(checks) == 1
    assert all(result is not None for result in results) and len(results) == 8
