"""The caches the HTTP surface does not show whole (entitlement snapshots, live games and
their members, race-name keys) stay coherent between two instances on one database.

Two services in the test's own trio run, each with its own pool, listener and caches;
changes go through instance A's services, and B's caches are read directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import trio

from galaxy.config import load_config
from galaxy.domain.lobby import Action
from galaxy.domain.race_names import canonical
from galaxy.services.accounts import Change
from galaxy.services.container import Services
from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.store.database import Connection
from tests.support.service import Running, service_environ, start_service

GUARD = 10.0  # a hang guard; propagation itself is measured in test_cache_coherence.py


async def start(nursery: trio.Nursery, db_dsn: str, data_dir: Path, instance_id: str) -> Running:
    environ = service_environ(db_dsn, data_dir, BACKEND_INSTANCE_ID=instance_id)
    return await start_service(nursery, load_config(environ))


def services(running: Running) -> Services:
    assert running.service.services is not None
    return running.service.services


async def until(holds: Callable[[], bool]) -> None:
    """Wait, hang-guarded, until B's cache shows the change (no event says so)."""
    with trio.fail_after(GUARD):
        while not holds():  # noqa: ASYNC110 - the listener applies on its own task
            await trio.sleep(0.005)


async def test_entitlements_games_members_and_race_names_reach_the_other_instance(
    db_dsn: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    a = services(await start(nursery, db_dsn, tmp_path / "a", "galaxy-a"))
    b = services(await start(nursery, db_dsn, tmp_path / "b", "galaxy-b"))

    # A first login's account, made on A: its entitlement snapshot reaches B.
    async def sign_up(conn: Connection, after: AfterCommit) -> uuid.UUID:
        account, _ = await a.accounts.ensure_by_email(
            conn, after, "coherent@example.com", language="en", time_zone="UTC", name_retries=3
        )
        return account.user_id

    user_id = await run_unit(a.db, sign_up, name="test.sign_up")
    await until(lambda: b.accounts.entitlement(user_id) is not None)
    await a.accounts.set_entitlement(user_id, "patron", "admin", Change("admin:root", "test"))
    await until(
        lambda: (row := b.accounts.entitlement(user_id)) is not None and row.tier == "patron"
    )

    # A house game opened on A, and a player seated in it with a race name.
    game = await a.games.create_house("root", {"name": "Coherent", "max_players": 4})
    await until(lambda: game.game_id in b.lobby_events.ctx.cache.games)
    assert b.lobby_events.ctx.cache.games[game.game_id].game.status == "enrollment_open"
    await a.enrollment.apply(user_id, game.game_id, "Coherent Ones", "")
    await until(lambda: b.lobby_events.ctx.cache.membership(game.game_id, user_id) is not None)
    assert b.lobby_events.ctx.member_race(game.game_id, user_id) == "Coherent Ones"
    # The race name's invalidation came in the same commit but is its own cache's: B
    # may apply it a moment after the membership.
    await until(lambda: canonical("Coherent Ones") in b.race_names.keys)

    # Cancelled on A: the game leaves B's cache of live games, the reservation its keys.
    await a.games.act(game.game_id, Action.CANCEL, reason="test")
    await until(lambda: game.game_id not in b.lobby_events.ctx.cache.games)
    await until(lambda: canonical("Coherent Ones") not in b.race_names.keys)
    # A's own caches agree (its write-through, then its own invalidation's re-read).
    assert game.game_id not in a.lobby_events.ctx.cache.games
    assert canonical("Coherent Ones") not in a.race_names.keys
