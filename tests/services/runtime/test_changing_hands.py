"""What a call to a game answers when its lease is this instance's but its actor is not
there (runtime/service.py `_ask`): while the game is being recovered here or handed over,
a 503 to retry (`not_owner`); while the service stops, `shutting_down`; otherwise the
engine is simply not running (404)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any, cast

import pytest
import trio
import trio.testing

from galaxy.domain.errors import NotFound, NotOwner, ShuttingDown
from galaxy.services.runtime.service import Runtime

GAME, PLAYER = uuid.uuid4(), uuid.uuid4()


class Games:
    """Where the game actors would be: none is, and the service may be stopping."""

    def __init__(self) -> None:
        self.stopping = False
        self.stopped: list[str] = []

    def find(self, _: str) -> None:
        return None

    async def stop(self, _: str, name: str) -> None:
        self.stopped.append(name)
        await trio.sleep_forever()  # a hand-over held open: its actor is stopping


def runtime(held: bool, games: Games) -> Runtime:
    deps = SimpleNamespace(
        settings=SimpleNamespace(start_timeout=1.0, call_timeout=1.0),
        lobby=SimpleNamespace(ctx=SimpleNamespace(cache=SimpleNamespace(games={GAME: object()}))),
        ownership=SimpleNamespace(epoch_of=lambda game_id: 1 if held else None),
    )
    return Runtime(cast(Any, deps), cast(Any, games), supervisor="games")


async def test_a_game_being_recovered_here_answers_retry_then_its_state() -> None:
    games = Games()
    service = runtime(held=True, games=games)
    recovered = trio.Event()

    async def recovering(_: uuid.UUID) -> Any:
        await recovered.wait()  # the actor recovers the game (an engine may start)

    service.game = recovering  # type: ignore[method-assign,assignment]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service._adopt, GAME)
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(NotOwner):
            await service.report(PLAYER, GAME, None)
        recovered.set()
    with pytest.raises(NotFound):  # adopted, and still no actor: not running
        await service.report(PLAYER, GAME, None)


async def test_a_game_being_handed_over_answers_retry() -> None:
    games = Games()
    service = runtime(held=True, games=games)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(service._hand_over, GAME)
        await trio.testing.wait_all_tasks_blocked()
        assert games.stopped  # its actor is stopping, its lease not yet freed
        with pytest.raises(NotOwner):
            await service.order(PLAYER, GAME, 1, [])
        nursery.cancel_scope.cancel()


async def test_a_stopping_service_answers_shutting_down_not_a_missing_engine() -> None:
    games = Games()
    service = runtime(held=True, games=games)
    games.stopping = True
    with pytest.raises(ShuttingDown):
        await service.report(PLAYER, GAME, None)


async def test_a_game_held_elsewhere_answers_not_owner() -> None:
    service = runtime(held=False, games=Games())
    with pytest.raises(NotOwner):
        await service.report(PLAYER, GAME, None)
