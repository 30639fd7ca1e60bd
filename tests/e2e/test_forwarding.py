"""Requests reach the owner (issue 20): two real `galaxy run` processes on one PostgreSQL; a
running game owned by a; calls sent to b that must be serialised with the game are served by
a, one hop, with every check a runs for a direct call; during a hand-over, 503 `not_owner`
with Retry-After.

Which instance served a call is read from the processes' access lines: the forwarding
instance sends its request id on, so the owner's line carries the id the caller got.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import trio

from tests.support.driving import Gatewayish
from tests.support.galaxy_process import GalaxyProcess, clean_environ
from tests.support.service import ADMIN

pytestmark = pytest.mark.e2e

TOKEN = "forwarding-test-gateway-token-0123456789"
GATEWAY = {"Authorization": f"Bearer {TOKEN}"}
FORWARDED_BY = "X-Galaxy-Forwarded-By"
NAMESPACE = 0x67616C61  # store/liveness.py: the first key of every run's liveness lock


def environ(db_dsn: str, data_dir: Path, state_root: Path, instance_id: str) -> dict[str, str]:
    return clean_environ(
        data_dir,
        BACKEND_POSTGRES_DSN=db_dsn,
        BACKEND_INSTANCE_ID=instance_id,
        BACKEND_INSTANCE_HEARTBEAT_INTERVAL="200ms",
        BACKEND_INSTANCE_TTL="2s",
        BACKEND_GAME_LEASE_TTL="3s",
        BACKEND_GAME_LEASE_RENEW_INTERVAL="500ms",
        BACKEND_GAME_STATE_ROOT=str(state_root),
        BACKEND_RUNTIME_DRIVER="process",
        BACKEND_RUNTIME_RECONCILE_INTERVAL="1h",
        BACKEND_GATEWAY_TOKEN=TOKEN,
        BACKEND_ADMIN_BOOTSTRAP_USER=ADMIN[0],
        BACKEND_ADMIN_BOOTSTRAP_PASSWORD=ADMIN[1],
    )


def query(db_dsn: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_dsn, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def served(galaxy: GalaxyProcess, response: httpx.Response) -> list[dict[str, Any]]:
    """The process's access lines for the request that got `response`."""
    request_id = response.headers["x-request-id"]
    return [
        line
        for line in galaxy.lines
        if line.get("msg") == "http.access" and line.get("request_id") == request_id
    ]


async def admin_names(http: httpx.AsyncClient) -> list[str]:
    """The admin accounts an instance knows (its account cache)."""
    listing = (await http.get("/api/v1/admin/admin-accounts", auth=ADMIN)).json()
    return [account["username"] for account in listing["items"]]


async def logged(galaxy: GalaxyProcess, response: httpx.Response) -> dict[str, Any]:
    """The access line (written once the answer went out: its reader may lag a little)."""
    with trio.fail_after(10):
        while not served(galaxy, response):  # noqa: ASYNC110 - a pipe's reader, no event
            await trio.sleep(0.02)
    (line,) = served(galaxy, response)
    return line


@dataclass
class TwoInstances:
    """a and b on one database and state root; a running game `game_id` of `owner` and
    `guest`, made through a, whose lease a holds."""

    a: GalaxyProcess
    b: GalaxyProcess
    a_http: httpx.AsyncClient
    b_http: httpx.AsyncClient
    gw_a: Gatewayish
    gw_b: Gatewayish
    owner: Any
    guest: Any
    game_id: str


@asynccontextmanager
async def two_instances(
    db_dsn: str, tmp_path: Path, start_galaxy: Any, game: str
) -> AsyncIterator[TwoInstances]:
    """`TwoInstances`, started; both must stop cleanly (exit 0) after the test."""
    state_root = tmp_path / "a" / "games"
    a = start_galaxy(environ(db_dsn, tmp_path / "a", state_root, "galaxy-a"))
    a.drain()
    a_http = httpx.AsyncClient(base_url=a.ready["http"], timeout=60, headers=GATEWAY)
    gw_a = Gatewayish(a_http, Path(a.ready["maildir"]))
    owner = await gw_a.register("owner@example.org")
    guest = await gw_a.register("guest@example.org")
    game_id = await gw_a.running_game(owner, guest, game)
    (tmp_path / "b").mkdir()
    b = start_galaxy(environ(db_dsn, tmp_path / "b", state_root, "galaxy-b"))
    b.drain()
    b_http = httpx.AsyncClient(base_url=b.ready["http"], timeout=60, headers=GATEWAY)
    gw_b = Gatewayish(b_http, Path(a.ready["maildir"]))
    try:
        with trio.fail_after(30):  # b has registered with its address
            while len(query(db_dsn, "SELECT 1 FROM instances WHERE address <> ''")) < 2:  # noqa: ASYNC110
                await trio.sleep(0.05)
        # One game, two instances: a's share (ceil(1 / 2)) is that game, it keeps it.
        assert query(db_dsn, "SELECT holder FROM game_leases") == [("galaxy-a",)]
        yield TwoInstances(a, b, a_http, b_http, gw_a, gw_b, owner, guest, game_id)
    finally:
        await a_http.aclose()
        await b_http.aclose()
    for galaxy in (b, a):
        code, _, stderr = galaxy.stop()
        assert code == 0, stderr


async def test_calls_for_a_game_reach_its_owner_in_one_hop(
    db_dsn: str, tmp_path: Path, start_galaxy: Any
) -> None:
    async with two_instances(db_dsn, tmp_path, start_galaxy, "Forwarded") as pair:
        a, b, a_http, b_http = pair.a, pair.b, pair.a_http, pair.b_http
        gw_a, gw_b, owner, game_id = pair.gw_a, pair.gw_b, pair.owner, pair.game_id
        games = f"/games/{game_id}"
        runtime = f"/api/v1/admin/runtimes/{game_id}"

        # A player's order sent to b is a's answer, as a gives it directly.
        report = await gw_b.call(owner, "GET", f"{games}/reports/latest")  # the archive: b
        assert report.status_code == 200, report.text
        assert (await logged(b, report))["route"] == "/api/v1/user/games/<game_id>/reports/<turn>"
        assert not served(a, report)
        prime = next(
            p for p in report.json()["planets"] if p["kind"] == "local" and p["size"] == 1000
        )
        orders = {
            "turn": 0,
            "orders": [{"op": "produce", "planet": prime["id"], "what": "drive"}, {"op": "warp"}],
        }
        via_b = await gw_b.call(owner, "POST", f"{games}/orders", json=orders)
        direct = await gw_a.call(owner, "POST", f"{games}/orders", json=orders)
        assert via_b.status_code == direct.status_code == 200, via_b.text
        assert via_b.json() == direct.json()
        assert [r["status"] for r in via_b.json()["results"]] == ["accepted", "rejected"]
        on_a, on_b = await logged(a, via_b), await logged(b, via_b)
        assert on_a["route"] == "/api/v1/user/games/<game_id>/orders"
        assert on_b["route"] == "forwarded /api/v1/user/games/<game_id>/orders"
        # One trace across the hop: the owner's span is a child of the forwarder's.
        assert on_a["otel_trace_id"] == on_b["otel_trace_id"]
        assert on_a["otel_span_id"] != on_b["otel_span_id"]

        # What the hop costs (printed for the report; not asserted: a shared machine).
        hello = {"commands": [{"op": "message", "to": "Zorgons", "text": "timed"}]}
        timings: dict[str, list[float]] = {"direct": [], "forwarded": []}
        for _ in range(20):
            for name, gw in (("direct", gw_a), ("forwarded", gw_b)):
                started = time.perf_counter()
                said = await gw.call(owner, "POST", f"{games}/commands", json=hello)
                timings[name].append(time.perf_counter() - started)
                assert said.status_code == 200, said.text
        medians = {k: sorted(v)[len(v) // 2] * 1000 for k, v in timings.items()}
        print(f"command round trip (incl. the session lookup), median ms: {medians}")

        # An operator's turn sent to b runs once, on a.
        forced = await b_http.post(f"{runtime}/force-next-turn", auth=ADMIN)
        assert forced.status_code == 200, forced.text
        assert forced.json()["turn"] == 1
        assert (await logged(a, forced))["status"] == 200
        described = await a_http.get(runtime, auth=ADMIN)
        assert described.json()["record"]["turn"] == 1
        via_b_description = await b_http.get(runtime, auth=ADMIN)  # forwarded: a's actor shows
        assert via_b_description.json()["actor"] is not None
        assert via_b_description.json()["record"] == described.json()["record"]

        # A client's forwarded-by header only means "do not forward": b refuses, 503.
        pretending = await b_http.post(
            f"{runtime}/force-next-turn", auth=ADMIN, headers={FORWARDED_BY: "galaxy-a"}
        )
        assert pretending.status_code == 503, pretending.text
        assert pretending.json()["error"]["code"] == "not_owner"
        assert pretending.headers["retry-after"] == "1"
        assert not served(a, pretending)

        # The owner runs every check, as for a direct call; b runs the cheap ones first and
        # the admin surface's too, with the same answers, and then sends nothing on: a
        # wrong admin password, and a request without the gateway's token.
        wrong = ("root", "not the password")
        refused_b = await b_http.post(f"{runtime}/force-next-turn", auth=wrong)
        refused_a = await a_http.post(f"{runtime}/force-next-turn", auth=wrong)
        assert refused_b.status_code == refused_a.status_code == 401
        assert refused_b.json() == refused_a.json()
        assert refused_b.headers["www-authenticate"] == refused_a.headers["www-authenticate"]
        assert refused_b.headers["x-frame-options"] == refused_a.headers["x-frame-options"]
        await logged(b, refused_b)
        assert not served(a, refused_b)
        headers = {"X-User-ID": owner["user"], "Authorization": "Bearer wrong-token"}
        bad_b = await b_http.post(f"/api/v1/user{games}/orders", json=orders, headers=headers)
        bad_a = await a_http.post(f"/api/v1/user{games}/orders", json=orders, headers=headers)
        assert bad_b.status_code == bad_a.status_code == 401
        assert bad_b.json() == bad_a.json()
        assert bad_b.json()["error"]["code"] == "gateway_unauthorized"
        await logged(b, bad_b)
        assert not served(a, bad_b)

        # A hand-over: the lease is taken by a run that is alive (the test holds its
        # liveness lock) and has no registration, so nobody can claim it and no address
        # is known: b answers 503 with Retry-After, and forwards nothing.
        with psycopg.connect(db_dsn, autocommit=True) as gone:
            gone.execute("SELECT pg_advisory_lock(%s, hashtext('gone-run'))", (NAMESPACE,))
            gone.execute(
                "UPDATE game_leases SET holder = 'galaxy-gone', holder_run = 'gone-run',"
                " epoch = epoch + 1, expires_at = now() + interval '1 hour' WHERE game_id = %s",
                (game_id,),
            )
            began = time.monotonic()
            handing = await gw_b.call(owner, "POST", f"{games}/orders", json=orders)
            assert handing.status_code == 503, handing.text
            assert handing.json()["error"]["code"] == "not_owner"
            assert handing.headers["retry-after"] == "1"
            assert not served(a, handing)
            turning = await b_http.post(f"{runtime}/force-next-turn", auth=ADMIN)
            assert turning.status_code == 503 and turning.headers["retry-after"] == "1"
            # The description is a read of the record: served by b meanwhile, no actor.
            meanwhile = await b_http.get(runtime, auth=ADMIN)
            assert meanwhile.status_code == 200 and meanwhile.json()["actor"] is None
            print(f"hand-over answers took {time.monotonic() - began:.3f}s")  # for the report (-s)
        # The lock is gone with its connection: the game is claimed again, and goes on
        # from the turn it was at (none lost, none run twice), whichever instance owns it.
        with trio.fail_after(60):
            while True:
                again = await b_http.post(f"{runtime}/force-next-turn", auth=ADMIN)
                if again.status_code == 200:
                    break
                assert again.status_code == 503, again.text
                await trio.sleep(0.1)
        assert again.json()["turn"] == 2
        turns = query(
            db_dsn, "SELECT turn FROM turn_summaries WHERE game_id = %s ORDER BY turn", game_id
        )
        assert [t for (t,) in turns] == [0, 1, 2]

        # An operator's force-stop sent to the instance that does not own the game: the
        # owner moves the lobby's game and stops its actor, in one call.
        (holder,) = query(db_dsn, "SELECT holder FROM game_leases WHERE game_id = %s", game_id)
        owning, other = (a, b_http) if holder[0] == "galaxy-a" else (b, a_http)
        force_stop = f"/api/v1/admin/games/{game_id}/force-stop"
        # The console's browser sends its own origin; the hop changes the host, so the
        # origin is checked where it was sent. A forged cross-site one and a viewer's
        # action are refused there, and reach no owner.
        other_host = other.base_url.netloc.decode()
        forged = await other.post(
            force_stop, auth=ADMIN, headers={"Origin": "https://evil.example"}
        )
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "cross_site_request"
        viewer = ("watcher", "a long enough viewer password")
        made = await a_http.post(
            "/api/v1/admin/admin-accounts",
            auth=ADMIN,
            json={"username": viewer[0], "password": viewer[1]},
        )
        assert made.status_code == 201 and made.json()["role"] == "viewer", made.text
        # The new account reaches the other instance's cache through its invalidation, a
        # few milliseconds later (its listing is that cache).
        with trio.fail_after(10):
            while viewer[0] not in await admin_names(other):  # noqa: ASYNC110 - another process's cache
                await trio.sleep(0.02)
        looking = await other.post(force_stop, auth=viewer)
        assert looking.status_code == 403 and looking.json()["error"]["code"] == "forbidden_role"
        for refused in (forged, looking):
            assert not served(owning, refused)
        browser = {"Origin": f"http://{other_host}", "Sec-Fetch-Site": "same-origin"}
        stopped = await other.post(force_stop, auth=ADMIN, headers=browser)
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["status"] == "finished"
        assert (await logged(owning, stopped))["route"] == (
            "/api/v1/admin/games/<game_id>/force-stop"
        )


async def test_a_report_the_archive_lacks_is_read_from_the_owners_engine_through_any_instance(
    db_dsn: str, tmp_path: Path, start_galaxy: Any
) -> None:
    """A report is read from the archive wherever the call arrives; one the archive lacks
    (a turn played before the archive existed, here made so by deleting its rows) is the
    engine's, which only the owner calls: another instance forwards the read to it."""
    async with two_instances(db_dsn, tmp_path, start_galaxy, "Unarchived") as pair:
        a, b, a_http, b_http = pair.a, pair.b, pair.a_http, pair.b_http
        gw_b, owner, game_id = pair.gw_b, pair.owner, pair.game_id
        forced = await a_http.post(f"/api/v1/admin/runtimes/{game_id}/force-next-turn", auth=ADMIN)
        assert forced.status_code == 200 and forced.json()["turn"] == 1, forced.text
        query(
            db_dsn,
            "DELETE FROM turn_summaries WHERE game_id = %s AND turn = 1 RETURNING turn",
            game_id,
        )

        report = await gw_b.call(owner, "GET", f"/games/{game_id}/reports/1")
        assert report.status_code == 200, report.text
        assert report.json()["turn"] == 1
        assert (await logged(a, report))["status"] == 200  # the owner served it
        assert (await logged(b, report))["status"] == 200

        # Sent as to an owner, to an instance that is not: never a second hop.
        looked = await b_http.get(f"/api/v1/internal/sessions/{owner['session']}")
        again = await b_http.get(
            f"/api/v1/user/games/{game_id}/reports/1",
            headers={"X-User-ID": looked.json()["user_id"], FORWARDED_BY: "galaxy-a"},
        )
        assert again.status_code == 503, again.text
        assert again.json()["error"]["code"] == "not_owner"
        assert again.headers["retry-after"] == "1"
