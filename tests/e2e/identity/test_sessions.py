"""The gateway's session surface: cached lookups, revocation, and the push it causes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
import trio
from nacl.signing import SigningKey

from galaxy.config import load_config
from galaxy.services.container import Services
from galaxy.services.sessions import MISS_READS_AT_ONCE
from tests.support.contract import ContractClient, assert_error_body
from tests.support.gateway import Gateway
from tests.support.players import (
    asql,
    confirm,
    login,
    mailed_code,
    public_key,
    request_code,
    sql,
)
from tests.support.service import Running, admin_auth, service_environ, start_service

SESSIONS = "/api/v1/internal/sessions"


def services(running: Running) -> Services:
    assert running.service.services is not None
    return running.service.services


def grpc_port(running: Running) -> int:
    return int(running.endpoints.grpc.rsplit(":", 1)[1])


async def test_a_lookup_is_served_from_the_cache_without_the_database(
    http: ContractClient, running: Running
) -> None:
    player = await login(http, running, "fast@example.org")
    assert running.config.postgres.dsn is not None
    with psycopg.connect(running.config.postgres.dsn) as locker:
        # Any read of these tables would now wait for this transaction.
        locker.execute("LOCK TABLE device_sessions, accounts IN ACCESS EXCLUSIVE MODE")
        with trio.fail_after(5):
            for _ in range(20):
                response = await http.get(f"{SESSIONS}/{player.device_session_id}")
                assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == player.user_id
    assert body["status"] == "active"
    assert body["client_public_key"] == public_key(player.key)
    upper = await http.get(f"{SESSIONS}/{player.device_session_id.upper()}")
    assert upper.status_code == 200 and upper.json() == body
    assert_error_body(await http.get(f"{SESSIONS}/not-a-uuid"), 404, "session_not_found")


async def test_lookups_are_remembered_as_last_seen_in_batches(
    http: ContractClient, running: Running
) -> None:
    player = await login(http, running, "seen@example.org")
    sessions = services(running).sessions

    async def last_seen() -> str | None:
        view = await http.get(f"/api/v1/admin/users/{player.user_id}", auth=admin_auth())
        [session] = view.json()["sessions"]
        found: str | None = session["last_seen_at"]
        return found

    before = datetime.now(UTC)
    assert (await http.get(f"{SESSIONS}/{player.device_session_id}")).status_code == 200
    assert sessions.last_seen_pending() == 1  # noted in memory: the lookup stays a memory read
    # The actor writes the notes on its timer and when it stops.
    await running.service.system.stop("core", "sessions.last_seen")
    assert sessions.last_seen_pending() == 0
    written = await last_seen()
    assert written is not None and before <= datetime.fromisoformat(written) <= datetime.now(UTC)


async def test_revoking_a_session_ends_lookups_and_tells_the_gateways(
    http: ContractClient, running: Running
) -> None:
    player = await login(http, running, "leave@example.org")
    gateway = await Gateway(grpc_port(running), "gw-1").start()
    try:
        revoked = await http.post(
            f"{SESSIONS}/{player.device_session_id}/revoke", json={"reason": "signed out"}
        )
        assert revoked.status_code == 200
        assert revoked.json()["status"] == "revoked"
        assert revoked.json()["revoke_reason"] == "signed out"
        (event,) = await gateway.events(1)
        invalidation = event.session_invalidation
        assert invalidation.user_id == player.user_id
        assert list(invalidation.device_session_ids) == [player.device_session_id]
        assert invalidation.reason == "signed out"
    finally:
        await gateway.close()
    lookup = await http.get(f"{SESSIONS}/{player.device_session_id}")
    assert_error_body(lookup, 404, "session_not_found")
    again = await http.post(f"{SESSIONS}/{player.device_session_id}/revoke")
    assert again.status_code == 200 and again.json()["revoke_reason"] == "signed out"
    unknown = "0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b22"
    assert_error_body(await http.post(f"{SESSIONS}/{unknown}/revoke"), 404, "session_not_found")
    assert_error_body(await http.post(f"{SESSIONS}/nope/revoke"), 400, "invalid_id")


async def test_revoke_all_ends_every_session_of_the_user(
    http: ContractClient, running: Running
) -> None:
    phone = await login(http, running, "two@example.org")
    laptop = await login(http, running, "two@example.org", mail_number=2)
    other = await login(http, running, "other@example.org")
    gateway = await Gateway(grpc_port(running), "gw-1").start()
    try:
        response = await http.post(f"{SESSIONS}/users/{phone.user_id}/revoke-all")
        assert response.status_code == 200
        assert sorted(response.json()["revoked"]) == sorted(
            [phone.device_session_id, laptop.device_session_id]
        )
        (event,) = await gateway.events(1)
        assert event.session_invalidation.user_id == phone.user_id
        assert list(event.session_invalidation.device_session_ids) == []  # all of them
    finally:
        await gateway.close()
    for session in (phone, laptop):
        lookup = await http.get(f"{SESSIONS}/{session.device_session_id}")
        assert_error_body(lookup, 404, "session_not_found")
    assert (await http.get(f"{SESSIONS}/{other.device_session_id}")).status_code == 200
    nothing = await http.post(f"{SESSIONS}/users/{phone.user_id}/revoke-all")
    assert nothing.json()["revoked"] == []


async def test_operators_revoke_sessions_from_the_admin_surface(
    http: ContractClient, running: Running
) -> None:
    phone = await login(http, running, "ops-two@example.org")
    laptop = await login(http, running, "ops-two@example.org", mail_number=2)
    other = await login(http, running, "ops-other@example.org")
    users = "/api/v1/admin/users"
    gateway = await Gateway(grpc_port(running), "gw-1").start()
    try:
        one = await http.post(
            f"{users}/{phone.user_id}/sessions/{phone.device_session_id}/revoke",
            json={"reason": "lost phone"},
            auth=admin_auth(),
        )
        assert one.status_code == 200 and one.json()["status"] == "revoked"
        assert one.json()["revoke_reason"] == "lost phone (admin:root)"
        (event,) = await gateway.events(1)
        assert list(event.session_invalidation.device_session_ids) == [phone.device_session_id]
    finally:
        await gateway.close()
    assert_error_body(
        await http.get(f"{SESSIONS}/{phone.device_session_id}"), 404, "session_not_found"
    )
    assert (await http.get(f"{SESSIONS}/{laptop.device_session_id}")).status_code == 200
    # A session is revoked through its own user only.
    elsewhere = await http.post(
        f"{users}/{phone.user_id}/sessions/{other.device_session_id}/revoke", auth=admin_auth()
    )
    assert_error_body(elsewhere, 404, "session_not_found")
    everything = await http.post(f"{users}/{phone.user_id}/sessions/revoke-all", auth=admin_auth())
    assert everything.json() == {"user_id": phone.user_id, "revoked": [laptop.device_session_id]}
    assert (await http.get(f"{SESSIONS}/{other.device_session_id}")).status_code == 200
    unknown = "0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b22"
    nobody = await http.post(f"{users}/{unknown}/sessions/revoke-all", auth=admin_auth())
    assert_error_body(nobody, 404, "account_not_found")
    anonymous = await http.post(f"{users}/{phone.user_id}/sessions/revoke-all")
    assert anonymous.status_code == 401


async def test_the_cache_is_warmed_from_the_database_at_startup(
    http: ContractClient, running: Running, db_dsn: str, tmp_path: Path
) -> None:
    kept = await login(http, running, "kept@example.org")
    gone = await login(http, running, "gone@example.org")
    await http.post(f"{SESSIONS}/{gone.device_session_id}/revoke")
    running.service.stop()
    await running.service.stopped.wait()
    async with trio.open_nursery() as nursery:
        config = load_config(service_environ(db_dsn, tmp_path / "second"))
        second = await start_service(nursery, config)
        async with httpx.AsyncClient(base_url=second.http) as client:
            fresh = ContractClient(client)
            assert (await fresh.get(f"{SESSIONS}/{kept.device_session_id}")).status_code == 200
            lookup = await fresh.get(f"{SESSIONS}/{gone.device_session_id}")
            assert_error_body(lookup, 404, "session_not_found")
        second.service.stop()


FAIL_AT_COMMIT = """
CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'injected commit failure' USING ERRCODE = 'serialization_failure';
END $$;
CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT OR UPDATE ON device_sessions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit();
"""


async def test_the_cache_stays_in_step_with_the_database_when_a_commit_fails(
    http: ContractClient, running: Running
) -> None:
    player = await login(http, running, "steady@example.org")
    cache = services(running).sessions.cache
    sql(running, FAIL_AT_COMMIT)

    # A revocation whose commit fails: the session stays active, in both places.
    revoke = await http.post(f"{SESSIONS}/{player.device_session_id}/revoke")
    assert_error_body(revoke, 503, "database_unavailable")
    assert (await http.get(f"{SESSIONS}/{player.device_session_id}")).status_code == 200
    status = sql(
        running,
        "SELECT status FROM device_sessions WHERE device_session_id = %s",
        player.device_session_id,
    )
    assert status == [("active",)]

    # A login whose commit fails: no session appears, the code is not spent.
    challenge_id = await request_code(http, "steady@example.org")
    code = await mailed_code(running, "steady@example.org", 2)
    sessions_before = len(cache)
    assert_error_body(await confirm(http, challenge_id, code), 503, "database_unavailable")
    assert len(cache) == sessions_before
    assert sql(running, "SELECT count(*) FROM device_sessions") == [(1,)]

    sql(running, "DROP TRIGGER fail_at_commit ON device_sessions")
    assert (await confirm(http, challenge_id, code)).status_code == 200
    assert len(cache) == sessions_before + 1
    revoke = await http.post(f"{SESSIONS}/{player.device_session_id}/revoke")
    assert revoke.status_code == 200
    assert len(cache) == sessions_before


async def test_account_internal_answers_for_live_and_deleted_accounts(
    http: ContractClient, running: Running
) -> None:
    player = await login(http, running, "inside@example.org")
    url = f"/api/v1/internal/users/{player.user_id}/account-internal"
    live = await http.get(url)
    assert live.status_code == 200 and live.json()["status"] == "active"
    await http.post("/api/v1/user/account/delete", headers=player.headers)
    deleted = await http.get(url)
    assert deleted.status_code == 200 and deleted.json()["status"] == "deleted"
    unknown = "/api/v1/internal/users/0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b22/account-internal"
    assert_error_body(await http.get(unknown), 404, "account_not_found")


@pytest.mark.parametrize("path", [f"{SESSIONS}/x/y", f"{SESSIONS}/"])
async def test_other_shapes_are_not_lookups(http: ContractClient, path: str) -> None:
    response = await http.get(path)
    assert response.status_code in (404, 405)


async def made_elsewhere(running: Running, user_id: str) -> str:
    """A session committed as another instance commits it, before its invalidation has
    reached this instance's cache (no notification is sent at all); its id."""
    key = SigningKey.generate().verify_key.encode()
    [(session_id,)] = await asql(
        running,
        "INSERT INTO device_sessions (device_session_id, user_id, client_public_key)"
        " VALUES (gen_random_uuid(), %s, %s) RETURNING device_session_id::text",
        user_id,
        key,
    )
    return str(session_id)


async def test_a_session_made_on_another_instance_a_moment_ago_is_read_on_a_miss(
    http: ContractClient, running: Running
) -> None:
    player = await login(http, running, "elsewhere@example.org")
    session_id = await made_elsewhere(running, player.user_id)
    found = await http.get(f"{SESSIONS}/{session_id}")
    assert found.status_code == 200, found.text
    assert found.json()["user_id"] == player.user_id and found.json()["status"] == "active"
    assert running.config.postgres.dsn is not None
    with psycopg.connect(running.config.postgres.dsn) as locker:
        # Kept by the read: the next lookup is the cache's again (no read would end now).
        locker.execute("LOCK TABLE device_sessions, accounts IN ACCESS EXCLUSIVE MODE")
        with trio.fail_after(5):
            assert (await http.get(f"{SESSIONS}/{session_id}")).status_code == 200
    # A made-up id, and a revoked session the cache has not heard of, are read and refused.
    assert_error_body(await http.get(f"{SESSIONS}/{uuid.uuid4()}"), 404, "session_not_found")
    revoked = await made_elsewhere(running, player.user_id)
    await asql(
        running,
        "UPDATE device_sessions SET status = 'revoked' WHERE device_session_id = %s",
        revoked,
    )
    assert_error_body(await http.get(f"{SESSIONS}/{revoked}"), 404, "session_not_found")


async def test_misses_read_the_database_at_most_two_at_a_time(
    http: ContractClient, running: Running
) -> None:
    player = await login(http, running, "flooded@example.org")
    session_id = await made_elsewhere(running, player.user_id)
    sessions = services(running).sessions
    assert MISS_READS_AT_ONCE == 2
    assert running.config.postgres.dsn is not None
    with psycopg.connect(running.config.postgres.dsn) as locker:
        # Two misses whose reads wait on the lock hold both of the miss reads...
        locker.execute("LOCK TABLE device_sessions IN ACCESS EXCLUSIVE MODE")
        async with trio.open_nursery() as nursery:
            for _ in range(MISS_READS_AT_ONCE):
                nursery.start_soon(http.get, f"{SESSIONS}/{uuid.uuid4()}")
            with trio.fail_after(5):
                while sessions.miss_reads_in_flight() < MISS_READS_AT_ONCE:  # noqa: ASYNC110 - a limiter's count, no event
                    await trio.sleep(0.01)
            # ...so a third miss, a real session's included, answers at once without one.
            with trio.fail_after(5):
                refused = await http.get(f"{SESSIONS}/{session_id}")
            assert_error_body(refused, 404, "session_not_found")
            locker.rollback()  # the lock goes: the two reads end (404, made-up ids)
    assert (await http.get(f"{SESSIONS}/{session_id}")).status_code == 200  # read this time
