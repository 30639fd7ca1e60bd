"""Exponential backoff with optional jitter: supervisors between restarts, workers between retries.

A kernel concept (a supervisor cannot be built without it) that workers of the
application reuse, so it lives here and they import it from the kernel.
"""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delay before retry number `attempt` (1-based): initial·factor^(attempt-1), capped.

    `jitter` is the fraction of the delay drawn at random (0 = deterministic), so
    that many workers retrying at once spread out instead of stampeding.
    """

    initial: float = 0.1
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        if attempt < 1:
            return 0.0
        base = min(self.initial * self.factor ** (attempt - 1), self.maximum)
        if self.jitter <= 0:
            return base
        spread = base * self.jitter
        draw = (rng or random).uniform(-spread, spread)
        return max(0.0, min(base + draw, self.maximum))
