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

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from nacl.signing import SigningKey

from tests.e2e.conftest import clean_environ
from tests.engine import bot
from tests.support.gateway import Gateway
from tests.support.players import codes_in

pytestmark = pytest.mark.e2e


class Gatewayish:
    """The gateway's side of REST: sessions looked up, X-User-ID injected."""

    def __init__(self, client: httpx.AsyncClient, maildir: Path) -> None:
        self.client = client
        self.maildir = maildir

    async def register(self, email: str) -> dict[str, str]:
        sent = await self.client.post("/api/v1/public/auth/send-email-code", json={"email": email})
        assert sent.status_code == 200, sent.text
        with trio.fail_after(30):
            while not codes_in(self.maildir, email):  # noqa: ASYNC110 - a Maildir has no event
                await trio.sleep(0.05)
        key = SigningKey.generate()
        confirmed = await self.client.post(
            "/api/v1/public/auth/confirm-email-code",
            json={
                "challenge_id": sent.json()["challenge_id"],
                "code": codes_in(self.maildir, email)[-1],
                "client_public_key": base64.b64encode(bytes(key.verify_key)).decode(),
                "time_zone": "Europe/Berlin",
            },
        )
        assert confirmed.status_code == 200, confirmed.text
        session = confirmed.json()["device_session_id"]
        looked = await self.client.get(f"/api/v1/internal/sessions/{session}")
        return {"session": session, "user": looked.json()["user_id"]}

    async def call(self, user: dict[str, str], method: str, path: str, **kwargs: Any) -> Any:
        # The gateway checks the session on every request, then injects the user.
        looked = await self.client.get(f"/api/v1/internal/sessions/{user['session']}")
        assert looked.status_code == 200, looked.text
        headers = {"X-User-ID": looked.json()["user_id"]}
        return await self.client.request(method, f"/api/v1/user{path}", headers=headers, **kwargs)


async def test_a_whole_game_from_registration_to_a_registered_race_name(
    tmp_path: Path, start_galaxy: Any
) -> None:
    environ = clean_environ(tmp_path, BACKEND_RUNTIME_PROBE_INTERVAL="500ms")
    galaxy = start_galaxy(environ)
    galaxy.drain()
    ready = galaxy.ready
    password = await trio.Path(ready["admin_password_file"]).read_text()
    admin = (ready["admin_user"], password.strip())
    grpc_port = int(ready["grpc"].rsplit(":", 1)[1])
    gateway = await Gateway(grpc_port, "gw-e2e").start()
    try:
        async with httpx.AsyncClient(base_url=ready["http"], timeout=60) as client:
            gw = Gatewayish(client, Path(ready["maildir"]))
            owner = await gw.register("owner@example.org")
            guest = await gw.register("guest@example.org")

            created = await gw.call(
                owner,
                "POST",
                "/lobby/games",
                json={
                    "name": "Journey",
                    "min_players": 2,
                    "max_players": 2,
                    "turn_schedule": "1h",
                },
            )
            gid = created.json()["game_id"]
            await gw.call(owner, "POST", f"/lobby/games/{gid}/open-enrollment")
            invite = await gw.call(
                owner, "POST", f"/lobby/games/{gid}/invites", json={"user_id": guest["user"]}
            )
            applied = await gw.call(
                owner, "POST", f"/lobby/games/{gid}/applications", json={"race_name": "Vogons"}
            )
            application = applied.json()["application"]["application_id"]
            await gw.call(owner, "POST", f"/lobby/games/{gid}/applications/{application}/approve")
            redeemed = await gw.call(
                guest,
                "POST",
                f"/lobby/games/{gid}/invites/{invite.json()['invite_id']}/redeem",
                json={"race_name": "Zorgons"},
            )
            assert redeemed.status_code == 200, redeemed.text
            await gw.call(owner, "POST", f"/lobby/games/{gid}/ready-to-start")
            assert (await gw.call(owner, "POST", f"/lobby/games/{gid}/start")).json()[
                "status"
            ] == "starting"
            with trio.fail_after(60):  # the engine starts; a game's state has no event
                while (await gw.call(owner, "GET", f"/lobby/games/{gid}")).json()["game"][  # noqa: ASYNC110
                    "status"
                ] != "running":
                    await trio.sleep(0.1)

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
                status = (await gw.call(owner, "GET", f"/lobby/games/{gid}")).json()["game"][
                    "status"
                ]
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
                json={"username": second[0], "password": second[1]},
                auth=admin,
            )
            off = await client.post(f"/api/v1/admin/admin-accounts/{admin[0]}/disable", auth=second)
            assert off.status_code == 200
            assert (await client.get("/api/v1/admin/actors", auth=admin)).status_code == 401
    finally:
        await gateway.close()
    code, _, stderr = galaxy.stop()
    assert code == 0, stderr
