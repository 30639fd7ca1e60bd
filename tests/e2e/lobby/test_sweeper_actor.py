"""The `lobby.sweeper` actor does its rounds by itself, on its timer."""

from __future__ import annotations

import pytest

from tests.support.lobby import User
from tests.support.mail import eventually
from tests.support.players import asql, sql
from tests.support.service import Running, actor_count


@pytest.mark.parametrize("running", [{"BACKEND_LOBBY_SWEEPER_INTERVAL": "50ms"}], indirect=True)
async def test_the_sweeper_closes_an_expired_enrollment_on_its_own(
    users: list[User], running: Running
) -> None:
    owner = users[0]
    gid = (await owner.enrolling(min_players=2))["game_id"]
    await asql(running, "UPDATE games SET enrollment_deadline = now() - interval '1s'")

    async def closed() -> bool:
        return sql(running, "SELECT status FROM games WHERE game_id = %s", gid) == [("cancelled",)]

    await eventually(closed)
    assert actor_count(running, "lobby.sweeper", "rounds") >= 1
