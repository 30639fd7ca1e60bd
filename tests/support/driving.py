"""Driving the real `galaxy` process as a gateway does: REST with a session lookup per call."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import trio
from nacl.signing import SigningKey

from tests.support.players import codes_in

Player = dict[str, str]  # {"session": …, "user": …}


async def admin_credentials(ready: dict[str, Any]) -> tuple[str, str]:
    """The bootstrap admin a fresh `galaxy run` announces in its ready line."""
    password = await trio.Path(ready["admin_password_file"]).read_text()
    return ready["admin_user"], password.strip()


class Gatewayish:
    """The gateway's side of REST: sessions looked up, X-User-ID injected."""

    def __init__(self, client: httpx.AsyncClient, mail: Path | Callable[[str], list[str]]) -> None:
        """`mail`: the embedded sink's Maildir, or what reads the codes sent to an address."""
        self.client = client
        self.codes = mail if callable(mail) else lambda email: codes_in(mail, email)

    async def register(self, email: str) -> Player:
        sent = await self.client.post("/api/v1/public/auth/send-email-code", json={"email": email})
        assert sent.status_code == 200, sent.text
        with trio.fail_after(30):
            while not self.codes(email):  # noqa: ASYNC110 - a mailbox has no event
                await trio.sleep(0.05)
        key = SigningKey.generate()
        confirmed = await self.client.post(
            "/api/v1/public/auth/confirm-email-code",
            json={
                "challenge_id": sent.json()["challenge_id"],
                "code": self.codes(email)[-1],
                "client_public_key": base64.b64encode(bytes(key.verify_key)).decode(),
                "time_zone": "Europe/Berlin",
            },
        )
        assert confirmed.status_code == 200, confirmed.text
        session = confirmed.json()["device_session_id"]
        looked = await self.client.get(f"/api/v1/internal/sessions/{session}")
        return {"session": session, "user": looked.json()["user_id"]}

    async def call(self, user: Player, method: str, path: str, **kwargs: Any) -> Any:
        # The gateway checks the session on every request, then injects the user.
        looked = await self.client.get(f"/api/v1/internal/sessions/{user['session']}")
        assert looked.status_code == 200, looked.text
        headers = {"X-User-ID": looked.json()["user_id"]}
        return await self.client.request(method, f"/api/v1/user{path}", headers=headers, **kwargs)

    async def game(self, player: Player, game_id: str) -> dict[str, Any]:
        found: dict[str, Any] = (await self.call(player, "GET", f"/lobby/games/{game_id}")).json()
        return found["game"]

    async def running_game(
        self,
        owner: Player,
        guest: Player,
        name: str,
        *,
        schedule: str = "1h",
        races: tuple[str, str] = ("Vogons", "Zorgons"),
    ) -> str:
        """A two-player game, joined by an application and an invite, started and running.

        `races`: the owner's and the guest's race names (a name is one user's only)."""
        created = await self.call(
            owner,
            "POST",
            "/lobby/games",
            json={"name": name, "min_players": 2, "max_players": 2, "turn_schedule": schedule},
        )
        game_id: str = created.json()["game_id"]
        await self.call(owner, "POST", f"/lobby/games/{game_id}/open-enrollment")
        invite = await self.call(
            owner, "POST", f"/lobby/games/{game_id}/invites", json={"user_id": guest["user"]}
        )
        applied = await self.call(
            owner, "POST", f"/lobby/games/{game_id}/applications", json={"race_name": races[0]}
        )
        application = applied.json()["application"]["application_id"]
        await self.call(owner, "POST", f"/lobby/games/{game_id}/applications/{application}/approve")
        redeemed = await self.call(
            guest,
            "POST",
            f"/lobby/games/{game_id}/invites/{invite.json()['invite_id']}/redeem",
            json={"race_name": races[1]},
        )
        assert redeemed.status_code == 200, redeemed.text
        await self.call(owner, "POST", f"/lobby/games/{game_id}/ready-to-start")
        started = await self.call(owner, "POST", f"/lobby/games/{game_id}/start")
        assert started.json()["status"] == "starting", started.text
        await self.wait_for_game(owner, game_id, status="running")
        return game_id

    async def wait_for_game(self, player: Player, game_id: str, **wanted: Any) -> dict[str, Any]:
        """Until the game's fields have the wanted values (a game's state has no event)."""
        with trio.fail_after(60):
            while True:
                game = await self.game(player, game_id)
                if all(game.get(field) == value for field, value in wanted.items()):
                    return game
                await trio.sleep(0.1)
