"""The `core/sessions.last_seen` actor: writes when each device session was last looked up.

The gateway looks a session up on every request; the lookup only notes the
moment in memory (it must stay a memory read), and this actor writes the
notes to `device_sessions.last_seen_at` in one statement every
FLUSH_INTERVAL, and once more when stopping, so a graceful shutdown loses none.
"""

from __future__ import annotations

from typing import Any, ClassVar

from galaxy.actors.worker import FlushingWorker, timer_only
from galaxy.services.sessions import Sessions

FLUSH_INTERVAL = 10.0


class LastSeen(FlushingWorker):
    kind: ClassVar[str] = "sessions.last_seen"

    def __init__(self, sessions: Sessions, *, interval: float = FLUSH_INTERVAL) -> None:
        super().__init__(timer_only, interval)
        self.sessions = sessions

    def details(self) -> dict[str, Any]:
        return {
            "pending": self.sessions.last_seen_pending(),
            "flushes": self.sessions.last_seen_flushes,
        }

    async def work(self) -> None:
        await self.sessions.flush_last_seen()
