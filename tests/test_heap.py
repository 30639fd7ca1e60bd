"""`heap.settle`: what start-up left is collected or frozen, and young garbage waits longer."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from galaxy import heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_settle_collects_garbage_then_freezes_what_lives(restored_gc: None) -> None:
    kept = Node()
    cycle = Node()
    cycle.other = Node()
    cycle.other.other = cycle  # garbage only the cyclic collector can free
    gone = weakref.ref(cycle)
    del cycle
    assert any(obj is kept for obj in gc.get_objects())  # scanned at every full collection

    heap.settle()

    assert gone() is None  # collected before the freeze: frozen garbage would never go
    assert gc.get_freeze_count() > 0
    assert not any(obj is kept for obj in gc.get_objects())  # frozen: no collection scans it
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
