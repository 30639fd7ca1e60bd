"""The `core/lobby.sweeper` actor: the lobby's rounds every `BACKEND_LOBBY_SWEEPER_INTERVAL`.

Releases pending race-name registrations past their window, closes games
whose enrollment deadline passed (ready to start with enough players,
cancelled without), and expires invites. Also swept once at start, so a
deadline that passed while the service was down is acted on at once.
"""

from __future__ import annotations

from typing import Any, ClassVar

from galaxy.actors.worker import WakeableWorker, timer_only
from galaxy.services.lobby import LobbyEvents


class LobbySweeper(WakeableWorker):
    kind: ClassVar[str] = "lobby.sweeper"

    def __init__(self, events: LobbyEvents, *, interval: float) -> None:
        super().__init__(timer_only, interval)
        self.events = events
        self.rounds = 0
        self.last: dict[str, int] = {}

    def details(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "last": self.last}

    async def work(self) -> None:
        self.last = await self.events.sweep()
        self.rounds += 1
