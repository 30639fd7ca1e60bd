"""How many transactions a game's start and turns take, on the real database.

Every `Database.run` is one transaction. The units a game's runtime causes
(its own, `runtime.*`, and the lobby's it calls) are counted while a game
starts and while it plays a forced and a scheduled turn; other actors' units
(mail, notifications) are not the runtime's and are left out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from galaxy.store.database import Connection, Database
from tests.e2e.runtime.test_lifecycle import RUNTIME, started_game
from tests.support.contract import ContractClient
from tests.support.mail import eventually
from tests.support.service import Running, admin_auth

T = TypeVar("T")
CAUSED_BY_THE_RUNTIME = (
    "runtime.",
    "lobby.start_result",
    "lobby.runtime_snapshot",
    "lobby.game_finished",
    "lobby.runtime_recovered",
)


@pytest.fixture
def units(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the runtime's units of work, in order (the real Database, counting)."""
    seen: list[str] = []
    real = Database.run

    async def counting(
        self: Database, work: Callable[[Connection], Awaitable[T]], *, name: str = ""
    ) -> T:
        if name.startswith(CAUSED_BY_THE_RUNTIME):
            seen.append(name)
        return await real(self, work, name=name or "db.unit_of_work")

    monkeypatch.setattr(Database, "run", counting)
    return seen


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_a_start_takes_four_transactions_and_a_turn_two(
    running: Running, http: ContractClient, units: list[str]
) -> None:
    _, _, gid = await started_game(running, http, schedule="1s")
    # The placement's rounds (leases.*) are no game's; the actor's spawn reads its
    # record (one unit); the start itself is four (twelve before issue 18).
    assert units == [
        "runtime.load",
        "runtime.start",  # game, members, version, record `starting`, operation begun
        "runtime.change",  # the launched engine's container and endpoint
        "lobby.start_result",
        "lobby.runtime_snapshot",  # record `running`, turn 0 archived, operation ended
    ]
    units.clear()

    forced = await http.post(f"/api/v1/admin/runtimes/{gid}/force-next-turn", auth=admin_auth())
    assert forced.status_code == 200, forced.text
    assert units == ["runtime.turn_begin", "lobby.runtime_snapshot"]  # six before
    units.clear()

    # The slot after a forced turn is skipped (one unit); the next is a scheduled turn.
    async def ticked() -> bool:
        return len(units) >= 3

    await eventually(ticked, timeout=30)
    assert units[:3] == ["runtime.change", "runtime.turn_begin", "lobby.runtime_snapshot"]
