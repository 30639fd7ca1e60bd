"""Fixtures of the HTTP edge's own tests: a bare app on hypercorn, on trio's MockClock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from tests.support.bare_edge import READ_TIMEOUT, Edge, serving


@pytest.fixture
def clock() -> trio.testing.MockClock:
    """Virtual time that jumps to the next deadline once every task has waited a little
    while in real time (the sockets are real, so not at once). pytest-trio runs a test
    on the clock among its arguments: a test that wants it takes `clock`."""
    return trio.testing.MockClock(autojump_threshold=0.05)


@pytest.fixture
async def edge(nursery: trio.Nursery) -> AsyncIterator[Edge]:
    async with serving(nursery) as served:
        yield served


@pytest.fixture
async def edge_with_read_timeout(nursery: trio.Nursery) -> AsyncIterator[Edge]:
    async with serving(nursery, read_timeout=READ_TIMEOUT) as served:
        yield served
