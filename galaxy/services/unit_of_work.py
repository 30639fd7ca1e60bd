"""Write-through after commit: a unit of work collects its cache and push effects.

Caches must never hold what the database does not (ARCHITECTURE.md §5). A
unit of work therefore does not touch caches or publish events itself; it
registers them on `AfterCommit`, and they run only once its transaction has
committed. A failed commit drops them with the transaction.

The other instances' caches hear of the change through the same
transaction: `invalidate` names a cache's changed keys, and `run_unit`
sends them (`NOTIFY`, store/invalidations.py) just before it commits, so
PostgreSQL delivers them on commit and never for a rollback.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from galaxy.store import invalidations
from galaxy.store.database import Connection, Database

T = TypeVar("T")


class AfterCommit:
    def __init__(self) -> None:
        self._effects: list[Callable[[], None]] = []
        self.invalidated: dict[str, set[str]] = {}  # cache name → keys changed

    def add(self, effect: Callable[[], None]) -> None:
        self._effects.append(effect)

    def invalidate(self, cache: str, *keys: str) -> None:
        """Every instance re-reads these keys of `cache` once this unit commits."""
        self.invalidated.setdefault(cache, set()).update(keys)

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
        result = await work(conn, after)
        await send_invalidations(conn, db.origin, after)
        return result

    result = await db.run(unit, name=name)
    after.apply()
    return result


async def send_invalidations(conn: Connection, sender: str, after: AfterCommit) -> None:
    """The unit's invalidations, one notification per cache, in its transaction."""
    for cache, keys in sorted(after.invalidated.items()):
        await invalidations.send(conn, sender, cache, keys)
