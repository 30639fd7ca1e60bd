"""The whole journey, against the real `galaxy run` on embedded defaults, as a gateway drives it.

REST for every call, a real gRPC push subscription for the events: two
players register with mailed codes, one creates a game, invites the other
and plays it with a scripted bot through the engine proxies until the turn
limit; the turn pushes arrive; the winner's grown race name becomes
registrable; a revoked session arrives as `session_invalidation`; a
soft-deleted player leaves everything; an operator resends a mail; and the
bootstrap admin hands over to a second one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from tests.support import bot
from tests.support.driving import Gatewayish, admin_credentials
from tests.support.galaxy_process import clean_environ
from tests.support.gateway import Gateway

pytestmark = pytest.mark.e2e


async def test_a_whole_game_from_registration_to_a_registered_race_name(
    tmp_path: Path, start_galaxy: Any
) -> None:
    environ = clean_environ(tmp_path, BACKEND_RUNTIME_PROBE_INTERVAL="500ms")
    galaxy = start_galaxy(environ)
    galaxy.drain()
    ready = galaxy.ready
    admin = await admin_credentials(ready)
    grpc_port = int(ready["grpc"].rsplit(":", 1)[1])
    gateway = await Gateway(grpc_port, "gw-e2e").start()
    try:
        async with httpx.AsyncClient(base_url=ready["http"], timeout=60) as client:
            gw = Gatewayish(client, Path(ready["maildir"]))
            owner = await gw.register("owner@example.org")
            guest = await gw.register("guest@example.org")

            gid = await gw.running_game(owner, guest, "Journey")

            # Both players play their bot through the engine proxies; an operator turns.
            status = "running"
            turns = 0
            while status == "running" and turns < 120:
                for player in (owner, guest):
                    report = (await gw.call(player, "GET", f"/games/{gid}/reports/latest")).json()
                    orders = bot.orders(report)
                    answer = await gw.call(
                        player,
                        "POST",
                        f"/games/{gid}/orders",
                        json={"turn": report["turn"], "orders": orders},
                    )
                    assert answer.status_code == 200, answer.text
                forced = await client.post(
                    f"/api/v1/admin/runtimes/{gid}/force-next-turn", auth=admin
                )
                assert forced.status_code == 200, forced.text
                turns += 1
                status = (await gw.game(owner, gid))["status"]
            assert status == "finished"

            # The players heard of the turns on the push stream.
            kinds: list[str] = []
            with trio.move_on_after(10):
                while "game.turn.ready" not in kinds:
                    event = await gateway.next()
                    kinds.append(event.client_event.kind)
            assert "game.turn.ready" in kinds

            # Whoever grew may register their name.
            registered = 0
            for player, race in ((owner, "Vogons"), (guest, "Zorgons")):
                names = (await gw.call(player, "GET", "/lobby/my/race-names")).json()["items"]
                if names and names[0]["status"] == "pending_registration":
                    done = await gw.call(
                        player, "POST", "/lobby/race-names/register", json={"race_name": race}
                    )
                    assert done.json()["status"] == "registered"
                    registered += 1
            assert registered >= 1

            # A revoked session reaches the gateway.
            revoked = await client.post(f"/api/v1/internal/sessions/{owner['session']}/revoke")
            assert revoked.status_code == 200
            with trio.fail_after(20):
                while True:
                    event = await gateway.next()
                    if event.HasField("session_invalidation"):
                        assert event.session_invalidation.user_id == owner["user"]
                        break

            # A player who leaves takes everything with them.
            assert (await gw.call(guest, "POST", "/account/delete")).status_code == 200
            gone = await client.get(f"/api/v1/internal/sessions/{guest['session']}")
            assert gone.status_code == 404

            # Operators: resend a mail; the bootstrap admin hands over.
            deliveries = (await client.get("/api/v1/admin/mail/deliveries", auth=admin)).json()[
                "items"
            ]
            resent = await client.post(
                f"/api/v1/admin/mail/deliveries/{deliveries[0]['delivery_id']}/resend", auth=admin
            )
            assert resent.status_code in (200, 409)  # 409 already_sent: never twice
            second = ("ops", "a long enough password")
            await client.post(
                "/api/v1/admin/admin-accounts",
                json={"username": second[0], "password": second[1], "role": "operator"},
                auth=admin,
            )
            off = await client.post(f"/api/v1/admin/admin-accounts/{admin[0]}/disable", auth=second)
            assert off.status_code == 200
            assert (await client.get("/api/v1/admin/actors", auth=admin)).status_code == 401
    finally:
        await gateway.close()
    code, _, stderr = galaxy.stop()
    assert code == 0, stderr
