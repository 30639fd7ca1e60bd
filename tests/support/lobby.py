"""Players and games for the lobby's tests (and the others that need a game)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from galaxy.services.container import Services
from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.store.database import Connection
from tests.support.contract import ContractClient
from tests.support.service import Running

LOBBY = "/api/v1/user/lobby"


def services(running: Running) -> Services:
    assert running.service.services is not None
    return running.service.services


@dataclass
class User:
    user_id: str
    http: ContractClient

    @property
    def headers(self) -> dict[str, str]:
        return {"X-User-ID": self.user_id}

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.http.get(f"{LOBBY}{path}", headers=self.headers, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        if body is not None:
            kwargs["json"] = body
        return await self.http.post(f"{LOBBY}{path}", headers=self.headers, **kwargs)

    async def patch(self, path: str, body: Any) -> Any:
        return await self.http.patch(f"{LOBBY}{path}", headers=self.headers, json=body)

    async def game(self, **settings: Any) -> dict[str, Any]:
        response = await self.post("/games", {"name": "Test game", **settings})
        assert response.status_code == 201, response.text
        game: dict[str, Any] = response.json()
        return game

    async def enrolling(self, **settings: Any) -> dict[str, Any]:
        game = await self.game(**settings)
        opened = await self.post(f"/games/{game['game_id']}/open-enrollment")
        assert opened.status_code == 200, opened.text
        found: dict[str, Any] = opened.json()
        return found


async def make_user(running: Running, http: ContractClient, email: str) -> User:
    """An account as a first login makes it (the login itself is tested elsewhere)."""

    async def work(conn: Connection, after: AfterCommit) -> uuid.UUID:
        account, _ = await services(running).accounts.ensure_by_email(
            conn, after, email, language="en", time_zone="UTC", name_retries=10
        )
        return account.user_id

    user_id = await run_unit(services(running).db, work, name="test.user")
    return User(str(user_id), http)


async def join(owner: User, player: User, game_id: str, race_name: str) -> dict[str, Any]:
    """`player` applies and `owner` approves: the player's membership."""
    applied = await player.post(f"/games/{game_id}/applications", {"race_name": race_name})
    assert applied.status_code == 201, applied.text
    if applied.json()["membership"] is not None:  # an auto-approving game
        seated: dict[str, Any] = applied.json()["membership"]
        return seated
    application_id = applied.json()["application"]["application_id"]
    approved = await owner.post(f"/games/{game_id}/applications/{application_id}/approve")
    assert approved.status_code == 200, approved.text
    membership: dict[str, Any] = approved.json()["membership"]
    return membership
