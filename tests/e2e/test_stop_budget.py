"""BACKEND_SHUTDOWN_TIMEOUT bounds the whole stop, however long a component would take."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import trio

from galaxy.actors import Actor, ChildSpec
from tests.support.service import Running

BUDGET = {"BACKEND_SHUTDOWN_TIMEOUT": "2s"}


class Stuck(Actor[Any]):
    """Ignores its stop: its own shutdown timeout is a minute."""

    kind: ClassVar[str] = "stuck"

    async def on_stop(self) -> None:
        await trio.sleep_forever()


@pytest.mark.parametrize("running", [BUDGET], indirect=True)
async def test_what_is_left_at_the_end_of_the_budget_is_cancelled(running: Running) -> None:
    """Each part stops within the budget, and so do all of them together.

    A stuck actor in each of the three parts of the tree (each stopped after
    the other, each capped by BACKEND_SHUTDOWN_TIMEOUT) made the stop last
    three times the budget.
    """
    service = running.service
    for part in ("edges", "core", "embedded"):
        await service.system.spawn(part, ChildSpec(f"stuck.{part}", Stuck, shutdown_timeout=60))
    began = trio.current_time()
    service.stop()
    with trio.fail_after(20):
        await service.stopped.wait()
    # The budget, then closing the pool and the rest: well short of twice the budget.
    assert trio.current_time() - began < 4
