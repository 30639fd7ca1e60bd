"""Admin credentials: bootstrap, bcrypt off the loop, the short verified cache, and the
budgets that bound guessing and bcrypt work (on trio's MockClock where time matters)."""

from __future__ import annotations

import threading

import bcrypt
import pytest
import trio
import trio.testing

from galaxy.domain.errors import TooManyRequests
from galaxy.services import admin_auth
from galaxy.services.admin_auth import AdminAuthenticator, AdminPrincipal
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


async def test_concurrent_checks_of_the_same_wrong_credentials_share_one_bcrypt(
    database: Database, checks: list[bytes]
) -> None:
    auth = AdminAuthenticator(database)
    await auth.ensure_bootstrap("root", "secret")
    results: list[object] = []

    async def verify() -> None:
        results.append(await auth.verify("root", "not it", "10.0.0.1"))

    async with trio.open_nursery() as nursery:
        for _ in range(8):
            nursery.start_soon(verify)
    assert checks == [b"not it"]
    assert results == [None] * 8


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Every bcrypt check waits for the gate to open, then runs the real bcrypt."""
    opened = threading.Event()
    real_checkpw = bcrypt.checkpw

    def gated_checkpw(password: bytes, hashed: bytes) -> bool:
        opened.wait(60)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", gated_checkpw)  # the module admin_auth calls
    return opened


async def test_bcrypt_work_is_bounded_and_the_excess_refused_at_once(
    database: Database, gate: threading.Event
) -> None:
    assert (admin_auth.BCRYPT_CONCURRENCY, admin_auth.BCRYPT_CONCURRENCY_PER_PEER) == (4, 2)
    auth = AdminAuthenticator(database)
    await auth.warm()
    outcomes: dict[str, object] = {}

    async def attempt(name: str, peer: str) -> None:
        try:
            outcomes[name] = await auth.verify(name, "a wrong password", peer)
        except TooManyRequests as refused:
            outcomes[name] = refused

    def busy() -> list[str]:
        return sorted(
            name
            for name, outcome in outcomes.items()
            if isinstance(outcome, TooManyRequests) and outcome.code == "sign_ins_busy"
        )

    async with trio.open_nursery() as nursery:
        for number in range(5):  # one peer trying names
            nursery.start_soon(attempt, f"a{number}", "10.0.0.1")
        await trio.testing.wait_all_tasks_blocked()
        assert auth.checks.running == 2  # its share; the other three were answered already
        assert len(busy()) == 3
        for number in range(3):
            nursery.start_soon(attempt, f"b{number}", "10.0.0.2")
        await trio.testing.wait_all_tasks_blocked()
        assert auth.checks.running == 4  # the whole bound
        assert len(busy()) == 4
        nursery.start_soon(attempt, "c0", "10.0.0.3")
        await trio.testing.wait_all_tasks_blocked()
        assert "c0" in busy()  # refused at once, not queued
        refused = [e for e in outcomes.values() if isinstance(e, TooManyRequests)]
        assert all(e.retry_after == admin_auth.BUSY_RETRY_AFTER for e in refused)
        gate.set()
    assert sum(1 for outcome in outcomes.values() if outcome is None) == 4
    assert auth.checks.running == 0
    # The refused ones were charged nothing: the third peer tries again at once.
    assert await auth.verify("c0", "a wrong password", "10.0.0.3") is None


async def test_the_sign_in_budgets_renew_on_trios_clock(
    database: Database, mock_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin_auth, "FAILED_SIGN_INS", 3)
    monkeypatch.setattr(admin_auth, "FAILED_SIGN_INS_PER_PEER", 5)
    auth = AdminAuthenticator(database)
    await auth.ensure_bootstrap("root", "secret")
    await auth.create("ops", "another secret")
    proxy = "10.0.0.1"
    for _ in range(3):
        assert await auth.verify("root", "wrong", proxy) is None
    with pytest.raises(TooManyRequests) as spent:
        await auth.verify("root", "secret", proxy)  # even the right one, from there
    assert spent.value.code == "too_many_failed_sign_ins"
    assert spent.value.retry_after == pytest.approx(admin_auth.FAILED_SIGN_IN_WINDOW)
    # Another name behind the same peer, and the same name from elsewhere, still sign in.
    assert await auth.verify("ops", "another secret", proxy) == AdminPrincipal("ops", "viewer")
    assert await auth.verify("root", "secret", "10.0.0.2") == AdminPrincipal("root", "operator")
    # Across names, the peer's own budget: two more failures spend it.
    for name in ("ghost", "ops"):
        assert await auth.verify(name, "wrong", proxy) is None
    with pytest.raises(TooManyRequests):
        await auth.verify("nobody", "wrong", proxy)
    mock_clock.jump(admin_auth.FAILED_SIGN_IN_WINDOW - 1)
    with pytest.raises(TooManyRequests) as later:
        await auth.verify("root", "secret", proxy)
    assert later.value.retry_after == pytest.approx(1)
    mock_clock.jump(1.5)
    assert await auth.verify("root", "secret", proxy) == AdminPrincipal("root", "operator")


async def test_overlong_passwords_are_refused_without_bcrypt(
    database: Database, checks: list[bytes]
) -> None:
    auth = AdminAuthenticator(database)
    await auth.ensure_bootstrap("root", "secret")
    assert await auth.verify("root", "x" * 73, "10.0.0.1") is None
    assert await auth.verify("root", "é" * 37, "10.0.0.1") is None  # 74 bytes
    assert checks == []


async def test_a_console_signed_in_is_not_locked_out_by_guessing_behind_its_proxy(
    database: Database, checks: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin_auth, "FAILED_SIGN_INS_PER_PEER", 3)
    auth = AdminAuthenticator(database)
    await auth.ensure_bootstrap("ops", "console secret")
    proxy = "10.0.0.1"
    assert await auth.verify("ops", "console secret", proxy) == AdminPrincipal("ops", "operator")
    for name in ("ghost", "nobody", "root"):  # someone else, behind the same proxy
        assert await auth.verify(name, "a guess", proxy) is None
    with pytest.raises(TooManyRequests):
        await auth.verify("anyone", "another guess", proxy)
    before = len(checks)
    # The console's credentials were verified a moment ago: no bcrypt runs, no budget applies.
    assert await auth.verify("ops", "console secret", proxy) == AdminPrincipal("ops", "operator")
    assert len(checks) == before


async def test_a_change_committed_while_a_password_is_checked_applies_to_that_request(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bcrypt takes a while: a demotion or a disable committed meanwhile is not missed by
    the request being checked (it is answered as the account is now)."""
    auth = AdminAuthenticator(database)
    await auth.ensure_bootstrap("root", "secret")
    await auth.create("deputy", "deputy's long password", "operator")
    await auth.create("leaving", "leaving's long password", "operator")
    real_bcrypt = AdminAuthenticator._bcrypt
    deputy, leaving = await auth.account("deputy"), await auth.account("leaving")
    changes = {  # by the password hash being checked
        deputy.password_hash: lambda: auth.set_role("deputy", "viewer", by="root"),
        leaving.password_hash: lambda: auth.set_disabled("leaving", True),
    }

    async def bcrypt_while_changed(
        self: AdminAuthenticator, pair: str, peer: str, secret: bytes, hashed: bytes
    ) -> bool:
        ok = await real_bcrypt(self, pair, peer, secret, hashed)
        await changes[hashed]()  # committed while the check ran
        return ok

    monkeypatch.setattr(AdminAuthenticator, "_bcrypt", bcrypt_while_changed)
    assert await auth.verify("deputy", "deputy's long password") == AdminPrincipal(
        "deputy", "viewer"
    )
    assert await auth.verify("leaving", "leaving's long password") is None
