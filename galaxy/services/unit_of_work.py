"""Write-through after commit: a unit of work collects its cache and push effects.

Caches must never hold what the database does not (ARCHITECTURE.md §5). A
unit of work therefore does not touch caches or publish events itself; it
registers them on `AfterCommit`, and they run only once its transaction has
committed. A failed commit drops them with the transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from galaxy.store.database import Connection, Database

T = TypeVar("T")


class AfterCommit:
    def __init__(self) -> None:
        self._effects: list[Callable[[], None]] = []

    def add(self, effect: Callable[[], None]) -> None:
        self._effects.append(effect)

    def apply(self) -> None:
        for effect in self._effects:
            effect()
        self._effects.clear()


async def run_unit(
    db: Database, work: Callable[[Connection, AfterCommit], Awaitable[T]], *, name: str
) -> T:
    """Run `work` in one transaction, then apply the effects it registered."""
    after = AfterCommit()

    async def unit(conn: Connection) -> T:
        return await work(conn, after)

    result = await db.run(unit, name=name)
    after.apply()
    return result
