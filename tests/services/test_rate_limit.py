"""In-process budgets on trio's MockClock: charged before the work, atomic under racing
tasks, given back on refund, renewed as charges age, and bounded in memory."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from galaxy.services.rate_limit import Budget, Concurrency


async def test_racing_tasks_cannot_overdraw_a_budget(mock_clock: trio.testing.MockClock) -> None:
    budget = Budget(limit=10, window=60)
    taken: list[bool] = []

    async def spend() -> None:
        await trio.lowlevel.checkpoint()  # interleave with the others
        wait = budget.take("198.51.100.7")
        if wait is None:
            await trio.sleep(1)  # the work the slot pays for, on the mock clock
        taken.append(wait is None)

    async with trio.open_nursery() as nursery:
        for _ in range(60):
            nursery.start_soon(spend)
        await trio.testing.wait_all_tasks_blocked()
        mock_clock.jump(1)
    assert taken.count(True) == 10 and taken.count(False) == 50


def test_a_refund_gives_a_slot_back_and_charges_age_out() -> None:
    clock = trio.testing.MockClock()

    async def scenario() -> None:
        budget = Budget(limit=2, window=600)
        assert budget.take("a") is None
        clock.jump(100)
        assert budget.take("a") is None
        assert budget.take("a") == pytest.approx(500)  # until the first charge ages
        budget.refund("a")  # the newest: the work did not count
        assert budget.take("a") is None
        clock.jump(500)
        assert budget.take("a") is None  # the first aged out
        assert budget.take("a") == pytest.approx(100)
        budget.refund("nobody")  # nothing to give back: no error

    trio.run(scenario, clock=clock)


def test_memory_stays_bounded_whatever_the_keys() -> None:
    clock = trio.testing.MockClock()

    async def scenario() -> None:
        budget = Budget(limit=1, window=60, max_keys=100)
        for number in range(1_000):  # all within the window
            assert budget.take(f"client-{number}") is None
            assert len(budget._charges) <= 100
        clock.jump(61)
        assert budget.take("client-999") is None  # aged, like any other
        assert len(budget._charges) <= 100

    trio.run(scenario, clock=clock)


def test_concurrency_is_bounded_in_all_and_per_key() -> None:
    bound = Concurrency(total=3, per_key=2)
    assert bound.enter("a") and bound.enter("a")
    assert not bound.enter("a")  # its share
    assert bound.enter("b")
    assert not bound.enter("c")  # the whole bound
    bound.leave("a")
    assert bound.enter("c")
    assert bound.running == 3
    for key in ("a", "b", "c"):
        bound.leave(key)
    assert bound.running == 0 and bound.enter("a")
