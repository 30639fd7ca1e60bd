"""A sliding-window budget of failures per key (failed admin sign-ins per address)."""

from __future__ import annotations

from collections import deque

import trio


class FailureBudget:
    """At most `limit` failures per `window` seconds per key; then wait for the oldest to age."""

    def __init__(self, limit: int, window: float, *, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self._max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float | None:
        """Seconds until `key` may try again, or None when it may try now."""
        failures = self._failures.get(key)
        if failures is None:
            return None
        now = trio.current_time()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        if len(failures) < self.limit:
            return None
        return failures[0] + self.window - now

    def fail(self, key: str) -> None:
        if key not in self._failures and len(self._failures) >= self._max_keys:
            self._forget_idle()
        self._failures.setdefault(key, deque()).append(trio.current_time())

    def _forget_idle(self) -> None:
        cutoff = trio.current_time() - self.window
        self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > cutoff}
