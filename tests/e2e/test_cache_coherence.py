"""Two real `galaxy run` processes on one database keep their caches coherent.

A change committed through one instance reaches the other's caches through
PostgreSQL LISTEN/NOTIFY (services/coherence.py); a listener that lost its
connection re-reads every cache before `/readyz` is 200 again.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import trio
from nacl.signing import SigningKey
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.support.contract import ContractClient
from tests.support.galaxy_process import GalaxyProcess, clean_environ
from tests.support.players import codes_in, confirm, request_code
from tests.support.service import ADMIN

GUARD = 10.0  # a hang guard, not a timing claim: propagation is measured, not asserted
ROOT = httpx.BasicAuth(*ADMIN)


@dataclass
class Instance:
    galaxy: GalaxyProcess
    instance_id: str

    @property
    def http(self) -> str:
        return str(self.galaxy.ready["http"])

    @property
    def maildir(self) -> Path:
        return Path(self.galaxy.ready["maildir"])

    def client(self) -> ContractClient:
        return ContractClient(httpx.AsyncClient(base_url=self.http, timeout=10))


def environ(db_dsn: str, data_dir: Path, instance_id: str) -> dict[str, str]:
    return clean_environ(
        data_dir,
        BACKEND_POSTGRES_DSN=db_dsn,
        BACKEND_INSTANCE_ID=instance_id,
        BACKEND_ADMIN_BOOTSTRAP_USER=ADMIN[0],
        BACKEND_ADMIN_BOOTSTRAP_PASSWORD=ADMIN[1],
        BACKEND_OTEL_TRACES_EXPORTER="none",
        BACKEND_OTEL_METRICS_EXPORTER="none",
        BACKEND_MAIL_WORKER_INTERVAL="50ms",
        BACKEND_MAIL_RETRY_INITIAL="10ms",
        BACKEND_MAIL_RETRY_MAX="40ms",
    )


@pytest.fixture
def pair(db_dsn: str, tmp_path: Path, start_galaxy: Any) -> tuple[Instance, Instance]:
    """Two instances; `start_galaxy` stops them after the test."""
    started = []
    for instance_id in ("galaxy-a", "galaxy-b"):
        galaxy: GalaxyProcess = start_galaxy(environ(db_dsn, tmp_path / instance_id, instance_id))
        galaxy.drain()
        started.append(Instance(galaxy, instance_id))
    return started[0], started[1]


@dataclass
class Operator:
    """psql on the server, from outside the instances' database (a database cannot refuse
    connections to itself from a session of its own)."""

    conn: psycopg.Connection[Any]
    database: str


@pytest.fixture
def operator(db_dsn: str) -> Iterator[Operator]:
    params = conninfo_to_dict(db_dsn)
    with psycopg.connect(make_conninfo(db_dsn, dbname="postgres"), autocommit=True) as conn:
        yield Operator(conn, str(params["dbname"]))


async def login(instance: Instance, email: str, *, mailed_by: tuple[Instance, ...]) -> str:
    """A login through `instance`'s public surface; the new session's id. The code is
    mailed by whichever instance's mail worker leased it (the outbox is shared), each
    into its own embedded sink, so it is looked for in all of `mailed_by`."""
    async with instance.client().client as raw:
        http = ContractClient(raw)
        challenge_id = await request_code(http, email)
        with trio.fail_after(GUARD):
            while not (codes := [c for i in mailed_by for c in codes_in(i.maildir, email)]):  # noqa: ASYNC110 - a Maildir has no event
                await trio.sleep(0.02)
        response = await confirm(http, challenge_id, codes[0], SigningKey.generate())
        assert response.status_code == 200, response.text
        session_id: str = response.json()["device_session_id"]
        return session_id


async def lookup(http: httpx.AsyncClient, session_id: str) -> int:
    return (await http.get(f"/api/v1/internal/sessions/{session_id}")).status_code


async def until_lookup(http: httpx.AsyncClient, session_id: str, status: int) -> float:
    """Poll the session lookup until it answers `status` (hang-guarded); when it did."""
    with trio.fail_after(GUARD):
        while await lookup(http, session_id) != status:
            await trio.lowlevel.checkpoint()
    return time.perf_counter()


async def revoke(instance: Instance, session_id: str) -> None:
    async with instance.client().client as raw:
        response = await ContractClient(raw).post(
            f"/api/v1/internal/sessions/{session_id}/revoke", json={"reason": "test"}
        )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "revoked"


async def readyz(http: httpx.AsyncClient) -> tuple[int, dict[str, bool]]:
    response = await http.get("/readyz")
    checks: dict[str, bool] = response.json()["checks"]
    return response.status_code, checks


async def test_a_session_made_and_revoked_through_one_instance_is_seen_by_the_other(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    async with httpx.AsyncClient(base_url=b.http, timeout=10) as on_b:
        session_id = await login(a, "coherent@example.com", mailed_by=pair)
        # The session was created on A: B knows it at once (B never saw the login), from
        # its cache once the invalidation arrived, else by reading it on the miss.
        assert await lookup(on_b, session_id) == 200
        await revoke(a, session_id)
        await until_lookup(on_b, session_id, 404)


async def test_revocation_propagation_time(pair: tuple[Instance, Instance]) -> None:
    """Revoke through A, poll B until it answers 404: the time it took, ~20 times.
    Printed (run with -s), not asserted: the test proves propagation, the figure is a
    measurement (docs/architecture.md, "Coherent caches")."""
    a, b = pair
    sessions = [await login(a, f"measured-{n}@example.com", mailed_by=pair) for n in range(20)]
    sent, answered = [], []  # from the revoke request sent / from A's answer
    async with (
        httpx.AsyncClient(base_url=a.http, timeout=10) as on_a,
        httpx.AsyncClient(base_url=b.http, timeout=10) as on_b,
    ):
        for session_id in sessions:
            await until_lookup(on_b, session_id, 200)
            started = time.perf_counter()
            response = await on_a.post(
                f"/api/v1/internal/sessions/{session_id}/revoke", json={"reason": "test"}
            )
            done = time.perf_counter()
            assert response.status_code == 200, response.text
            refused = await until_lookup(on_b, session_id, 404)
            sent.append(refused - started)
            answered.append(refused - done)
    for label, seconds in (("revoke sent", sent), ("A answered", answered)):
        print(  # the measurement is the output
            f"\nB refused a session revoked through A, from {label} (n={len(seconds)}): "
            f"median {statistics.median(seconds) * 1000:.1f} ms, "
            f"worst {max(seconds) * 1000:.1f} ms"
        )
    assert len(sent) == 20


async def test_an_admin_account_change_reaches_the_other_instance(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair
    ops = httpx.BasicAuth("ops", "a long enough password")

    async def on_b_admin() -> dict[str, Any]:
        async with b.client().client as raw:
            response = await ContractClient(raw).get("/api/v1/admin/admin-accounts", auth=ROOT)
        assert response.status_code == 200, response.text
        return {row["username"]: row for row in response.json()["items"]}

    async with a.client().client as raw:
        created = await ContractClient(raw).post(
            "/api/v1/admin/admin-accounts",
            json={"username": "ops", "password": "a long enough password"},
            auth=ROOT,
        )
    assert created.status_code == 201, created.text
    with trio.fail_after(GUARD):
        while "ops" not in await on_b_admin():
            await trio.lowlevel.checkpoint()
    async with httpx.AsyncClient(base_url=b.http, timeout=10) as on_b:
        assert (await on_b.get("/api/v1/admin/actors", auth=ops)).status_code == 200

        async with a.client().client as raw:
            disabled = await ContractClient(raw).post(
                "/api/v1/admin/admin-accounts/ops/disable", auth=ROOT
            )
        assert disabled.status_code == 200, disabled.text
        with trio.fail_after(GUARD):
            while (await on_b_admin())["ops"]["disabled_at"] is None:
                await trio.lowlevel.checkpoint()
        # Disabled on A: B refuses the credentials it accepted a moment ago.
        assert (await on_b.get("/api/v1/admin/actors", auth=ops)).status_code == 401


async def test_a_role_change_reaches_the_other_instance(pair: tuple[Instance, Instance]) -> None:
    a, b = pair
    ops = httpx.BasicAuth("ops", "a long enough password")
    async with a.client().client as raw:
        created = await ContractClient(raw).post(
            "/api/v1/admin/admin-accounts",
            json={"username": "ops", "password": "a long enough password"},
            auth=ROOT,
        )
    assert created.json()["role"] == "viewer", created.text
    async with b.client().client as raw:
        on_b = ContractClient(raw)

        async def role_on_b() -> str | None:
            response = await on_b.get("/api/v1/admin/me", auth=ops)
            return str(response.json()["role"]) if response.status_code == 200 else None

        with trio.fail_after(GUARD):
            while await role_on_b() != "viewer":  # B knows the account
                await trio.lowlevel.checkpoint()
        refused = await on_b.post("/api/v1/admin/admin-accounts/ops/disable", auth=ops)
        assert refused.json()["error"]["code"] == "forbidden_role"
        async with a.client().client as raw_a:
            promoted = await ContractClient(raw_a).post(
                "/api/v1/admin/admin-accounts/ops/role", json={"role": "operator"}, auth=ROOT
            )
        assert promoted.status_code == 200, promoted.text
        with trio.fail_after(GUARD):
            while await role_on_b() != "operator":
                await trio.lowlevel.checkpoint()
        # Promoted on A: B lets the same credentials, cached as verified, act.
        acted = await on_b.post(
            "/api/v1/admin/admin-accounts/root/role", json={"role": "viewer"}, auth=ops
        )
        assert acted.json()["role"] == "viewer", acted.text


async def test_an_engine_version_change_reaches_the_other_instance(
    pair: tuple[Instance, Instance],
) -> None:
    a, b = pair

    async def on_b_versions() -> dict[str, Any]:
        async with b.client().client as raw:
            response = await ContractClient(raw).get("/api/v1/admin/engine-versions", auth=ROOT)
        assert response.status_code == 200, response.text
        return {row["version"]: row for row in response.json()["items"]}

    async with a.client().client as raw:
        http = ContractClient(raw)
        added = await http.post(
            "/api/v1/admin/engine-versions",
            json={"version": "9.9.9", "image_ref": "galaxy-engine:9.9.9"},
            auth=ROOT,
        )
        assert added.status_code == 201, added.text
        with trio.fail_after(GUARD):
            while "9.9.9" not in await on_b_versions():
                await trio.lowlevel.checkpoint()
        assert (await on_b_versions())["9.9.9"]["enabled"] is True
        made = await http.post("/api/v1/admin/engine-versions/9.9.9/default", auth=ROOT)
        assert made.status_code == 200, made.text
    # Marking a default changes two rows (the new one and the old default): B has both.
    with trio.fail_after(GUARD):
        while not (await on_b_versions())["9.9.9"]["is_default"]:
            await trio.lowlevel.checkpoint()
    assert [v for v, row in (await on_b_versions()).items() if row["is_default"]] == ["9.9.9"]


async def test_a_listener_that_lost_its_connection_rewarms_before_it_is_ready_again(
    pair: tuple[Instance, Instance], operator: Operator
) -> None:
    a, b = pair
    session_id = await login(a, "missed@example.com", mailed_by=pair)
    superuser, database = operator.conn, operator.database
    async with httpx.AsyncClient(base_url=b.http, timeout=10) as on_b:
        await until_lookup(on_b, session_id, 200)
        status = await readyz(on_b)
        assert status[0] == 200 and status[1]["cache_listener"] is True

        # B's listener loses its connection and cannot get another one for now (the
        # pools keep the connections they have).
        superuser.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(database))
        )
        try:
            terminated = superuser.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s",
                (f"galaxy cache listener {b.instance_id}",),
            ).fetchall()
            assert terminated == [(True,)]
            with trio.fail_after(GUARD):
                while (status := await readyz(on_b))[0] != 503:
                    await trio.lowlevel.checkpoint()
            assert {name for name, ok in status[1].items() if not ok} == {"cache_listener"}

            # Revoked through A while B hears nothing: B still has the session.
            await revoke(a, session_id)
            assert await lookup(on_b, session_id) == 200
            assert (await readyz(on_b))[0] == 503
        finally:
            superuser.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(database))
            )

        with trio.fail_after(GUARD):
            while (await readyz(on_b))[0] != 200:
                await trio.lowlevel.checkpoint()
        # Ready again only once every cache was re-read: the missed revocation is in.
        assert await lookup(on_b, session_id) == 404
    listener = await listener_details(b)
    assert listener["restarts"] == 0  # reconnected by itself, not restarted
    assert (listener["details"]["connections"], listener["details"]["rewarms"]) == (2, 1)
    assert listener["details"]["synced"] is True


async def test_a_flush_rereads_the_whole_cache_and_an_unreadable_payload_is_ignored(
    pair: tuple[Instance, Instance], db_dsn: str
) -> None:
    """What a key list too long for one payload becomes (`"k": null`): every instance
    re-reads that cache whole. Shown with a session revoked behind the services' back,
    which no cache can know of until the flush (a miss would read the database; a
    cached session is not read again)."""
    a, b = pair
    session_id = await login(a, "flushed@example.com", mailed_by=pair)
    async with httpx.AsyncClient(base_url=b.http, timeout=10) as on_b:
        assert await lookup(on_b, session_id) == 200  # in B's cache now
        with psycopg.connect(db_dsn, autocommit=True) as conn:
            conn.execute(
                "UPDATE device_sessions SET status = 'revoked', revoked_at = now()"
                " WHERE device_session_id = %s",
                (session_id,),
            )
            assert await lookup(on_b, session_id) == 200  # no invalidation was sent
            conn.execute("SELECT pg_notify('galaxy_cache', 'not json')")
            conn.execute(
                "SELECT pg_notify('galaxy_cache', %s)",
                ('{"s": "operator", "c": "sessions", "k": null}',),
            )
        await until_lookup(on_b, session_id, 404)
        async with httpx.AsyncClient(base_url=a.http, timeout=10) as on_a:
            await until_lookup(on_a, session_id, 404)
        # The unreadable payload was logged and skipped: the listener neither crashed
        # nor reconnected (one connection, opened before the start's warm: no re-read).
        listener = await listener_details(b)
        assert (listener["restarts"], listener["details"]["connections"]) == (0, 1)
        assert listener["details"]["rewarms"] == 0
        assert (await readyz(on_b))[0] == 200


async def listener_details(instance: Instance) -> dict[str, Any]:
    """The `cache.listener` actor as `GET /api/v1/admin/actors` shows it."""
    async with httpx.AsyncClient(base_url=instance.http, timeout=10) as http:
        response = await http.get("/api/v1/admin/actors", auth=ROOT)
    assert response.status_code == 200, response.text

    def find(node: dict[str, Any]) -> dict[str, Any] | None:
        if node["name"] == "cache.listener":
            return node
        return next((hit for child in node["children"] if (hit := find(child))), None)

    found = find(response.json()["root"])
    assert found is not None
    return found
