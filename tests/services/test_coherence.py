"""How a batch of invalidations is applied: each cache once, its keys together."""

from __future__ import annotations

from collections.abc import Sequence

from galaxy.services.coherence import Coherence
from galaxy.services.readiness import Readiness
from galaxy.store.database import Database
from galaxy.store.invalidations import Invalidation


class Recorded:
    """A cache that notes what it was asked to re-read."""

    def __init__(self) -> None:
        self.reloads: list[list[str]] = []
        self.rewarms = 0

    async def reload(self, keys: Sequence[str]) -> None:
        self.reloads.append(list(keys))

    async def rewarm(self) -> None:
        self.rewarms += 1


def coherence(**caches: Recorded) -> Coherence:
    # The database is never opened: applying a batch only calls the caches.
    found = Coherence(Database("postgresql://unused/none?search_path=backend"), Readiness())
    for name, cache in caches.items():
        found.register(name, cache.reload, cache.rewarm)
    return found


async def test_a_batch_rereads_each_cache_once_with_its_keys_together() -> None:
    sessions, games = Recorded(), Recorded()
    applying = coherence(sessions=sessions, games=games)
    await applying.apply(
        [
            Invalidation("a", "sessions", ("u2",)),
            Invalidation("b", "games", ("g1",)),
            Invalidation("a", "sessions", ("u1", "u2")),
            Invalidation("a", "nobody_knows_this_cache", ("x",)),
        ]
    )
    assert sessions.reloads == [["u1", "u2"]]
    assert games.reloads == [["g1"]]
    assert (sessions.rewarms, games.rewarms) == (0, 0)
    assert applying.received == 4


async def test_a_flush_in_the_batch_rereads_that_cache_whole_and_no_keys() -> None:
    sessions, games = Recorded(), Recorded()
    applying = coherence(sessions=sessions, games=games)
    await applying.apply(
        [
            Invalidation("a", "sessions", ("u1",)),
            Invalidation("a", "sessions", None),
            Invalidation("a", "sessions", ("u2",)),
            Invalidation("a", "games", ("g1",)),
        ]
    )
    assert (sessions.reloads, sessions.rewarms) == ([], 1)
    assert games.reloads == [["g1"]]


async def test_losing_the_listener_makes_the_instance_unready() -> None:
    readiness = Readiness()
    applying = Coherence(Database("postgresql://unused/none?search_path=backend"), readiness)
    readiness.cache_listener = True
    applying.lost(ConnectionError("terminating connection due to administrator command\nmore"))
    assert readiness.cache_listener is False
    assert not (await readiness.report()).checks["cache_listener"]
    assert applying.last_error == "terminating connection due to administrator command"


async def test_a_key_the_cache_cannot_read_rereads_that_cache_whole() -> None:
    class Strict(Recorded):
        async def reload(self, keys: Sequence[str]) -> None:
            raise ValueError(f"badly formed hexadecimal UUID string: {keys[0]}")

    sessions = Strict()
    await coherence(sessions=sessions).apply([Invalidation("x", "sessions", ("nope",))])
    assert sessions.rewarms == 1
