"""In-process budgets: sliding windows of charges per key, and bounded concurrency per key.

Both are plain synchronous bookkeeping on trio's clock: a check and its
charge happen with no checkpoint between them, so tasks racing for the last
slot cannot both take it. They hold for one process; budgets that must hold
across processes live in PostgreSQL (the login-code rules in `store/auth.py`).
"""

from __future__ import annotations

from collections import deque

import trio


class Budget:
    """At most `limit` charges per `window` seconds per key (a sliding window).

    `take` charges a slot before the work it pays for (a bcrypt run, a mail),
    so concurrent callers cannot overdraw it; `refund` gives a slot back when
    the work turned out not to count (a right password).
    """

    def __init__(self, limit: int, window: float, *, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self._max_keys = max_keys
        self._charges: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float | None:
        """Seconds until `key` has a free slot, or None when it has one now (nothing charged)."""
        charges = self._charges.get(key)
        if charges is None:
            return None
        now = trio.current_time()
        while charges and charges[0] <= now - self.window:
            charges.popleft()
        if not charges:
            del self._charges[key]
            return None
        if len(charges) < self.limit:
            return None
        return charges[0] + self.window - now

    def take(self, key: str) -> float | None:
        """Charge one slot: None when taken, else the seconds until one frees (nothing charged)."""
        wait = self.retry_after(key)
        if wait is not None:
            return wait
        if key not in self._charges and len(self._charges) >= self._max_keys:
            self._make_room()
        self._charges.setdefault(key, deque()).append(trio.current_time())
        return None

    def refund(self, key: str) -> None:
        """Give back the newest slot of `key` (the work it paid for did not count)."""
        charges = self._charges.get(key)
        if charges:
            charges.pop()
            if not charges:
                del self._charges[key]

    def _make_room(self) -> None:
        """Forget keys with nothing in the window; past `max_keys` still, the oldest keys.

        Memory stays bounded whatever the callers send as keys; a key forgotten
        early starts afresh, which only happens when more than `max_keys`
        clients are spending at once.
        """
        cutoff = trio.current_time() - self.window
        self._charges = {k: v for k, v in self._charges.items() if v and v[-1] > cutoff}
        excess = len(self._charges) - self._max_keys + 1
        if excess > 0:
            for key in list(self._charges)[: max(excess, self._max_keys // 10)]:
                del self._charges[key]


class Concurrency:
    """At most `total` holders at once, and at most `per_key` of them per key; never waits.

    `enter` answers at once: a caller over either bound is refused (and
    answered 429 by its caller) instead of queueing behind the others.
    """

    def __init__(self, total: int, per_key: int) -> None:
        self.total = total
        self.per_key = per_key
        self.running = 0
        self._by_key: dict[str, int] = {}

    def enter(self, key: str) -> bool:
        held = self._by_key.get(key, 0)
        if self.running >= self.total or held >= self.per_key:
            return False
        self.running += 1
        self._by_key[key] = held + 1
        return True

    def leave(self, key: str) -> None:
        self.running -= 1
        held = self._by_key[key] - 1
        if held:
            self._by_key[key] = held
        else:
            del self._by_key[key]
