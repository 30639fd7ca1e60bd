"""Named queries for diplomatic mail: messages, per-recipient copies, the translation queue."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from galaxy.store import outbox
from galaxy.store.database import Connection, fetch_count, fetch_page
from galaxy.store.outbox import Settlement

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

# The translation queue: a copy waits in 'translating'. The table has no lease
# columns, so a claim leases by moving next_attempt_at a minute ahead. Giving
# up (dead) still delivers: the reader gets the original, marked 'failed'.
PAIRS = outbox.OutboxTable(
    "diplomail_recipients", ("message_id", "recipient_user_id"), ("translating",), leased=False
)
OUTBOX = outbox.outbox_queries(
    PAIRS,
    join=", diplomail_messages AS m",
    join_on="m.message_id = t.message_id",
    returning="""t.message_id, t.recipient_user_id, t.target_language, t.attempts,
          m.game_id, m.sender_race, m.subject, m.body, m.language""",
    sent="""status = 'delivered', delivered_at = now(), translation = 'translated',
    translated_subject = %(subject)s, translated_body = %(body)s, last_error = NULL,
    attempts = attempts + 1""",
    retry="attempts = attempts + 1",
    dead="""status = 'delivered', delivered_at = now(), translation = 'failed',
    attempts = attempts + 1""",
)


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
    """A (message, recipient) copy waiting for its translation."""

    message_id: uuid.UUID
    recipient_user_id: uuid.UUID
    target_language: str
    attempts: int
    game_id: uuid.UUID
    sender_race: str
    subject: str
    body: str
    language: str


@dataclass(frozen=True)
class Translation:
    subject: str
    body: str


async def sent_today(conn: Connection, user_id: uuid.UUID) -> int:
    return await fetch_count(conn, SENT_TODAY, {"user_id": user_id})


async def insert_message(
    conn: Connection,
    *,
    message_id: uuid.UUID,
    game_id: uuid.UUID,
    sender: uuid.UUID,
    race: str,
    subject: str,
    body: str,
    language: str,
) -> None:
    await conn.execute(
        INSERT_MESSAGE,
        {
            "message_id": message_id,
            "game_id": game_id,
            "sender": sender,
            "race": race,
            "subject": subject,
            "body": body,
            "language": language,
        },
    )


async def insert_recipient(
    conn: Connection,
    *,
    message_id: uuid.UUID,
    user_id: uuid.UUID,
    race: str,
    language: str,
    status: str,
) -> None:
    await conn.execute(
        INSERT_RECIPIENT,
        {
            "message_id": message_id,
            "user_id": user_id,
            "race": race,
            "language": language,
            "status": status,
        },
    )


async def mark_read(
    conn: Connection, message_id: uuid.UUID, user_id: uuid.UUID, game_id: uuid.UUID
) -> datetime | None:
    """When the copy was (first) read, or None when it is not in the reader's inbox."""
    cursor = await conn.execute(
        MARK_READ, {"message_id": message_id, "user_id": user_id, "game_id": game_id}
    )
    row: Any = await cursor.fetchone()
    if row is None:
        return None
    read_at: datetime = row[0]
    return read_at


async def claim_pairs(conn: Connection, owner: str, limit: int, lease_seconds: float) -> list[Pair]:
    return await outbox.claim(
        conn, OUTBOX, Pair, owner=owner, limit=limit, lease_seconds=lease_seconds
    )


async def settle_pair(
    conn: Connection,
    settlement: Settlement[Pair],
    translation: Translation | None,
) -> bool:
    """One pair's settle in the caller's transaction; False when it was no longer due."""
    pair = settlement.item
    params = {
        "message_id": pair.message_id,
        "recipient_user_id": pair.recipient_user_id,
        "subject": translation.subject if translation else None,
        "body": translation.body if translation else None,
    }
    return await outbox.settle(conn, OUTBOX, settlement, params) is not None


async def inbox(
    conn: Connection, user_id: uuid.UUID, game_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[InboxRow], int]:
    """A page of the messages `user_id` received in `game_id`, newest first."""
    params = {"user_id": user_id, "game_id": game_id}
    return await fetch_page(conn, InboxRow, INBOX, COUNT_INBOX, limit, offset, params)


async def sent(
    conn: Connection, user_id: uuid.UUID, game_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[SentRow], int]:
    """A page of the messages `user_id` sent in `game_id`, newest first."""
    params = {"user_id": user_id, "game_id": game_id}
    return await fetch_page(conn, SentRow, SENT, COUNT_SENT, limit, offset, params)
