"""The `core/diplomail.translator` actor: the leased outbox (`galaxy/core/outbox.py`) for
diplomatic-mail translations.

A claimed pair (a message's copy for one reader) is translated by the
configured translator; the translated copy is delivered and announced in
the batch's one settle transaction. A failed translation retries with
backoff (doubling from `BACKEND_DIPLOMAIL_WORKER_INTERVAL`, at most a
minute); after `BACKEND_DIPLOMAIL_TRANSLATOR_MAX_ATTEMPTS` the reader gets
the original, marked `failed`. Woken by every message that needs a
translation, and every `BACKEND_DIPLOMAIL_WORKER_INTERVAL`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import structlog

from galaxy.actors import Backoff
from galaxy.clients.translator import TranslationFailed
from galaxy.core.outbox import OutboxWorker, Result, RetryPolicy
from galaxy.services.diplomail import Diplomail
from galaxy.services.unit_of_work import AfterCommit
from galaxy.store import diplomail as queries
from galaxy.store.database import Connection
from galaxy.store.outbox import Outcome, Settlement

log = structlog.get_logger("galaxy.diplomail")

# Translations are two HTTP calls each: a small batch keeps a batch well within its lease.
BATCH = 1
LEASE_SECONDS = 60.0
MAX_DELAY = 60.0

Pair = queries.Pair
Key = tuple[Any, Any]


def key_of(pair: Pair) -> Key:
    return (pair.message_id, pair.recipient_user_id)


class TranslationQueue:
    """Copies waiting for a translation."""

    name = "diplomail"
    batch = BATCH

    def __init__(self, diplomail: Diplomail) -> None:
        self.diplomail = diplomail
        self.translated = 0
        self.fallbacks = 0
        # The current batch's translations, made in `send` and written in `settle`.
        self._done: dict[Key, queries.Translation] = {}

    def lease_seconds(self) -> float:
        return LEASE_SECONDS

    def attempts(self, item: Pair) -> int:
        return item.attempts

    async def claim(
        self, conn: Connection, owner: str, limit: int, lease_seconds: float
    ) -> list[Pair]:
        return await queries.claim_pairs(conn, owner, limit, lease_seconds)

    async def send(self, batch: Sequence[Pair]) -> list[Result[Pair]]:
        self._done = {}
        results: list[Result[Pair]] = []
        for pair in batch:
            try:
                self._done[key_of(pair)] = await self.diplomail.translate(pair)
            except TranslationFailed as error:
                results.append(Result.failed(pair, str(error)))
                continue
            results.append(Result.sent(pair))
        return results

    async def settle(
        self,
        conn: Connection,
        after: AfterCommit,
        owner: str,
        settled: Sequence[Settlement[Pair]],
    ) -> None:
        for settlement in settled:
            pair = settlement.item
            translation = self._done.get(key_of(pair))
            if not await queries.settle_pair(conn, settlement, translation):
                continue  # no longer due: delivered by another worker meanwhile
            if settlement.outcome is Outcome.RETRY:
                continue
            # Delivered, translated or (given up) in the original: tell the reader.
            subject = translation.subject if translation is not None else pair.subject
            await self.diplomail.announce_pair(conn, after, pair, subject)

    def report(self, settled: Sequence[Settlement[Pair]]) -> None:
        for settlement in settled:
            if settlement.outcome is Outcome.SENT:
                self.translated += 1
            elif settlement.outcome is Outcome.DEAD:
                self.fallbacks += 1
                log.warning(
                    "diplomail.translation_gave_up",
                    message_id=str(settlement.item.message_id),
                    attempts=settlement.attempt,
                    error=settlement.error,
                )


class DiplomailTranslator(OutboxWorker[Pair]):
    kind: ClassVar[str] = "diplomail.translator"

    def __init__(self, diplomail: Diplomail, *, interval: float, owner: str = "") -> None:
        self.translations = TranslationQueue(diplomail)
        super().__init__(
            self.translations,
            diplomail.lobby.db,
            diplomail.on_pending,
            owner=owner,  # the table has no lease holder column: the lease is next_attempt_at
            interval=interval,
            policy=RetryPolicy(
                diplomail.config.translator_max_attempts,
                Backoff(initial=interval, factor=2.0, maximum=MAX_DELAY),
            ),
        )

    def details(self) -> dict[str, Any]:
        return {
            "translated": self.translations.translated,
            "fallbacks": self.translations.fallbacks,
        }
