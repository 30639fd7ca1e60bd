"""The `core/diplomail.translator` actor: translates diplomatic mail, one pair per tick.

Woken by every message that needs a translation, and every
`BACKEND_DIPLOMAIL_WORKER_INTERVAL`; after a pair it wakes itself again
while pairs are due, so a backlog drains pair by pair without a busy loop.
"""

from __future__ import annotations

from typing import Any, ClassVar

from galaxy.actors.actor import Context
from galaxy.actors.worker import Wake, WakeableWorker
from galaxy.services.diplomail import Diplomail


class DiplomailTranslator(WakeableWorker):
    kind: ClassVar[str] = "diplomail.translator"

    def __init__(self, diplomail: Diplomail, *, interval: float) -> None:
        super().__init__(diplomail.on_pending, interval)
        self.diplomail = diplomail
        self._ctx: Context | None = None

    def details(self) -> dict[str, Any]:
        return {"translated": self.diplomail.translated, "fallbacks": self.diplomail.fallbacks}

    async def on_start(self, ctx: Context) -> None:
        self._ctx = ctx
        await super().on_start(ctx)

    async def work(self) -> None:
        if await self.diplomail.translate_one() and self._ctx is not None:
            self._ctx.ref.tell_nowait(Wake())  # more may be due: the next pair, next turn
