"""Diplomatic mail: messages between the members of a game, in each reader's language.

A message is kept once and delivered per recipient. When the sender and a
recipient prefer different languages and a translator is configured
(`BACKEND_DIPLOMAIL_TRANSLATOR_URL`), that recipient's copy waits for the
`diplomail.translator` actor, which translates one pair per tick and, after
`BACKEND_DIPLOMAIL_TRANSLATOR_MAX_ATTEMPTS` failures, delivers the original.
Every delivery is a `diplomail.message.received` push to its recipient.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from galaxy.clients.translator import TranslationFailed, Translator
from galaxy.config import DiplomailConfig
from galaxy.domain.accounts import DEFAULT_LIMITS
from galaxy.domain.errors import Forbidden, InvalidInput, NotFound, TooManyRequests
from galaxy.services.lobby.context import LobbyContext
from galaxy.services.paging import Page, read_page
from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.services.wakeups import Wakeups
from galaxy.store import accounts as account_queries
from galaxy.store.database import Connection, fetch_count, fetch_one

log = structlog.get_logger("galaxy.diplomail")

INSERT_MESSAGE = """
INSERT INTO diplomail_messages (message_id, game_id, sender_user_id, sender_race, subject, body,
                                language)
VALUES (%(message_id)s, %(game_id)s, %(sender)s, %(race)s, %(subject)s, %(body)s, %(language)s)
"""
INSERT_RECIPIENT = """
INSERT INTO diplomail_recipients (message_id, recipient_user_id, recipient_race, target_language,
                                  status, delivered_at)
VALUES (%(message_id)s, %(user_id)s, %(race)s, %(language)s, %(status)s,
        CASE WHEN %(status)s = 'delivered' THEN now() END)
"""
SENT_TODAY = """SELECT count(*) FROM diplomail_messages
WHERE sender_user_id = %(user_id)s AND created_at > now() - interval '1 day'"""

_INBOX = """
SELECT m.message_id, m.game_id, m.sender_race, r.recipient_race,
       coalesce(r.translated_subject, m.subject) AS subject,
       coalesce(r.translated_body, m.body) AS body,
       m.subject AS original_subject, m.body AS original_body,
       m.language AS original_language, r.target_language, r.translation,
       m.created_at, r.delivered_at, r.read_at
FROM diplomail_recipients r JOIN diplomail_messages m USING (message_id)
WHERE r.recipient_user_id = %(user_id)s AND m.game_id = %(game_id)s AND r.status = 'delivered'
"""
INBOX = _INBOX + " ORDER BY r.delivered_at DESC, m.message_id LIMIT %(limit)s OFFSET %(offset)s"
COUNT_INBOX = """SELECT count(*) FROM diplomail_recipients r JOIN diplomail_messages m
USING (message_id) WHERE r.recipient_user_id = %(user_id)s AND m.game_id = %(game_id)s
AND r.status = 'delivered'"""
SENT = """
SELECT m.message_id, m.game_id, m.subject, m.body, m.language, m.created_at,
       coalesce(json_agg(json_build_object('race', r.recipient_race, 'status', r.status,
                'translation', r.translation, 'read', r.read_at IS NOT NULL)
                ORDER BY r.recipient_race), '[]') AS recipients
FROM diplomail_messages m JOIN diplomail_recipients r USING (message_id)
WHERE m.sender_user_id = %(user_id)s AND m.game_id = %(game_id)s
GROUP BY m.message_id ORDER BY m.created_at DESC, m.message_id LIMIT %(limit)s OFFSET %(offset)s
"""
COUNT_SENT = """SELECT count(*) FROM diplomail_messages
WHERE sender_user_id = %(user_id)s AND game_id = %(game_id)s"""
MARK_READ = """
UPDATE diplomail_recipients SET read_at = coalesce(read_at, now())
WHERE message_id = %(message_id)s AND recipient_user_id = %(user_id)s AND status = 'delivered'
  AND message_id IN (SELECT message_id FROM diplomail_messages WHERE game_id = %(game_id)s)
RETURNING read_at
"""
# One due pair, leased for a minute so no other worker takes it meanwhile.
CLAIM_PAIR = """
WITH due AS (
    SELECT message_id, recipient_user_id FROM diplomail_recipients
    WHERE status = 'translating' AND next_attempt_at <= now()
    ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED
)
UPDATE diplomail_recipients r SET next_attempt_at = now() + interval '60 seconds'
FROM due, diplomail_messages m
WHERE r.message_id = due.message_id AND r.recipient_user_id = due.recipient_user_id
  AND m.message_id = r.message_id
RETURNING r.message_id, r.recipient_user_id, r.target_language, r.attempts,
          m.game_id, m.sender_race, m.subject, m.body, m.language
"""
DELIVER = """
UPDATE diplomail_recipients
SET status = 'delivered', delivered_at = now(), translation = %(translation)s,
    translated_subject = %(subject)s, translated_body = %(body)s, last_error = %(error)s,
    attempts = attempts + 1
WHERE message_id = %(message_id)s AND recipient_user_id = %(user_id)s AND status = 'translating'
"""
RETRY = """
UPDATE diplomail_recipients
SET attempts = attempts + 1, last_error = %(error)s,
    next_attempt_at = now() + make_interval(secs => %(delay)s)
WHERE message_id = %(message_id)s AND recipient_user_id = %(user_id)s
"""


@dataclass(frozen=True)
class InboxRow:
    message_id: uuid.UUID
    game_id: uuid.UUID
    sender_race: str
    recipient_race: str
    subject: str
    body: str
    original_subject: str
    original_body: str
    original_language: str
    target_language: str
    translation: str
    created_at: datetime
    delivered_at: datetime | None
    read_at: datetime | None


@dataclass(frozen=True)
class SentRow:
    message_id: uuid.UUID
    game_id: uuid.UUID
    subject: str
    body: str
    language: str
    created_at: datetime
    recipients: list[dict[str, Any]]


@dataclass(frozen=True)
class Pair:
    message_id: uuid.UUID
    recipient_user_id: uuid.UUID
    target_language: str
    attempts: int
    game_id: uuid.UUID
    sender_race: str
    subject: str
    body: str
    language: str


def language_of(tag: str) -> str:
    """The primary subtag a translator knows (`pt-BR` → `pt`)."""
    return tag.split("-", 1)[0].lower()


class Diplomail:
    def __init__(
        self,
        lobby: LobbyContext,
        config: DiplomailConfig,
        translator: Translator | None,
    ) -> None:
        self.lobby = lobby
        self.config = config
        self.translator = translator
        self._wakeups = Wakeups()
        self.translated = 0
        self.fallbacks = 0

    async def aclose(self) -> None:
        if self.translator is not None:
            await self.translator.aclose()

    def on_pending(self, listener: Callable[[], None]) -> Callable[[], None]:
        return self._wakeups.subscribe(listener)

    def _race(self, game_id: uuid.UUID, user_id: uuid.UUID) -> str:
        return self.lobby.member_race(game_id, user_id)

    def check_sizes(self, subject: str, body: str) -> None:
        if len(subject.encode()) > self.config.max_subject_bytes:
            raise InvalidInput(
                f"subject is over {self.config.max_subject_bytes} bytes", code="subject_too_long"
            )
        if not body.strip():
            raise InvalidInput("body is empty", code="invalid_body")
        if len(body.encode()) > self.config.max_body_bytes:
            raise InvalidInput(
                f"body is over {self.config.max_body_bytes} bytes", code="body_too_long"
            )

    async def send(
        self, user_id: uuid.UUID, game_id: uuid.UUID, to: list[str], subject: str, body: str
    ) -> dict[str, Any]:
        self.check_sizes(subject, body)
        sender_race = self._race(game_id, user_id)
        live = self.lobby.cache.games[game_id]
        by_race = {m.race_name: m for m in live.members.values()}
        recipients = []
        for race in dict.fromkeys(to):
            member = by_race.get(race)
            if member is None or member.user_id == user_id:
                raise InvalidInput(
                    f"{race!r} is not another race of this game", code="unknown_recipient"
                )
            recipients.append(member)
        if not recipients:
            raise InvalidInput("name at least one recipient race", code="unknown_recipient")
        message_id = uuid.uuid4()

        async def work(conn: Connection, after: AfterCommit) -> dict[str, Any]:
            kinds = {s.kind for s in await account_queries.active_sanctions(conn, user_id)}
            if "diplomail_mute" in kinds:
                raise Forbidden("you may not send diplomatic mail for now", code="diplomail_muted")
            allowed = DEFAULT_LIMITS["diplomail_daily_messages"]
            for limit in await account_queries.active_limits(conn, user_id):
                if limit.kind == "diplomail_daily_messages":
                    allowed = limit.value
            if await fetch_count(conn, SENT_TODAY, {"user_id": user_id}) >= allowed:
                raise TooManyRequests(
                    f"you may send {allowed} diplomatic messages a day", code="daily_limit"
                )
            sender = await account_queries.get_account(conn, user_id)
            assert sender is not None
            language = language_of(sender.preferred_language)
            await conn.execute(
                INSERT_MESSAGE,
                {
                    "message_id": message_id,
                    "game_id": game_id,
                    "sender": user_id,
                    "race": sender_race,
                    "subject": subject,
                    "body": body,
                    "language": language,
                },
            )
            readers = await account_queries.languages_of(conn, [m.user_id for m in recipients])
            translating = 0
            for member in recipients:
                reader = readers.get(member.user_id)
                target = language_of(reader) if reader else language
                needs = self.translator is not None and target != language
                status = "translating" if needs else "delivered"
                await conn.execute(
                    INSERT_RECIPIENT,
                    {
                        "message_id": message_id,
                        "user_id": member.user_id,
                        "race": member.race_name,
                        "language": target,
                        "status": status,
                    },
                )
                if needs:
                    translating += 1
                else:
                    await self._announce(
                        conn, after, game_id, message_id, member.user_id, sender_race, subject
                    )
            if translating:
                after.add(self._wakeups.wake)
            return {
                "message_id": message_id,
                "game_id": game_id,
                "recipients": len(recipients),
                "translating": translating,
            }

        return await run_unit(self.lobby.db, work, name="diplomail.send")

    async def _announce(
        self,
        conn: Connection,
        after: AfterCommit,
        game_id: uuid.UUID,
        message_id: uuid.UUID,
        recipient: uuid.UUID,
        from_race: str,
        subject: str,
    ) -> None:
        await self.lobby.notify(
            conn,
            after,
            "diplomail.message.received",
            f"diplomail:{message_id}:{recipient}",
            {
                "game_id": str(game_id),
                "message_id": str(message_id),
                "from_race": from_race,
                "subject": subject,
            },
            [recipient],
        )

    async def inbox(self, user_id: uuid.UUID, game_id: uuid.UUID, page: int) -> Page:
        self._race(game_id, user_id)
        return await self._page(InboxRow, INBOX, COUNT_INBOX, user_id, game_id, page)

    async def sent(self, user_id: uuid.UUID, game_id: uuid.UUID, page: int) -> Page:
        self._race(game_id, user_id)
        return await self._page(SentRow, SENT, COUNT_SENT, user_id, game_id, page)

    async def _page(
        self,
        row: type[Any],
        query: str,
        count: str,
        user_id: uuid.UUID,
        game_id: uuid.UUID,
        page: int,
    ) -> Page:
        params = {"user_id": user_id, "game_id": game_id}
        return await read_page(
            self.lobby.db, row, query, count, page, name="diplomail.page", params=params
        )

    async def mark_read(
        self, user_id: uuid.UUID, game_id: uuid.UUID, message_id: uuid.UUID
    ) -> datetime:
        self._race(game_id, user_id)

        async def write(conn: Connection) -> Any:
            cursor = await conn.execute(
                MARK_READ, {"message_id": message_id, "user_id": user_id, "game_id": game_id}
            )
            return await cursor.fetchone()

        row = await self.lobby.db.run(write, name="diplomail.read")
        if row is None:
            raise NotFound("no such message in your inbox", code="message_not_found")
        read_at: datetime = row[0]
        return read_at

    # -- the translator's work: one pair at a time -----------------------------------------

    async def translate_one(self) -> bool:
        """Translate (or give up on) one due pair; False when nothing was due."""
        pair = await self.lobby.db.run(
            lambda conn: fetch_one(conn, Pair, CLAIM_PAIR), name="diplomail.claim"
        )
        if pair is None:
            return False
        assert self.translator is not None
        try:
            subject = await self.translator.translate(
                pair.subject, pair.language, pair.target_language
            )
            body = await self.translator.translate(pair.body, pair.language, pair.target_language)
        except TranslationFailed as error:
            await self._failed(pair, str(error))
            return True
        await self._deliver(pair, "translated", subject, body, None)
        self.translated += 1
        return True

    async def _failed(self, pair: Pair, error: str) -> None:
        attempts = pair.attempts + 1
        if attempts >= self.config.translator_max_attempts:
            log.warning(
                "diplomail.translation_gave_up",
                message_id=str(pair.message_id),
                attempts=attempts,
                error=error,
            )
            await self._deliver(pair, "failed", None, None, error)
            self.fallbacks += 1
            return
        delay = min(60.0, 2.0**attempts * self.config.worker_interval / 2)

        async def retry(conn: Connection) -> None:
            await conn.execute(
                RETRY,
                {
                    "message_id": pair.message_id,
                    "user_id": pair.recipient_user_id,
                    "error": error,
                    "delay": delay,
                },
            )

        await self.lobby.db.run(retry, name="diplomail.retry")

    async def _deliver(
        self,
        pair: Pair,
        translation: str,
        subject: str | None,
        body: str | None,
        error: str | None,
    ) -> None:
        async def work(conn: Connection, after: AfterCommit) -> None:
            await conn.execute(
                DELIVER,
                {
                    "message_id": pair.message_id,
                    "user_id": pair.recipient_user_id,
                    "translation": translation,
                    "subject": subject,
                    "body": body,
                    "error": error,
                },
            )
            await self._announce(
                conn,
                after,
                pair.game_id,
                pair.message_id,
                pair.recipient_user_id,
                pair.sender_race,
                subject if subject is not None else pair.subject,
            )

        await run_unit(self.lobby.db, work, name="diplomail.deliver")
