"""Diplomatic mail: messages between the members of a game, in each reader's language.

A message is kept once and delivered per recipient. When the sender and a
recipient prefer different languages and a translator is configured
(`BACKEND_DIPLOMAIL_TRANSLATOR_URL`), that recipient's copy waits for the
`diplomail.translator` actor (the leased outbox of `galaxy/core/outbox.py`),
which translates it and, after `BACKEND_DIPLOMAIL_TRANSLATOR_MAX_ATTEMPTS`
failures, delivers the original.
Every delivery is a `diplomail.message.received` push to its recipient.
Members of a game that is over keep reading its mail (membership from the store).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import structlog

from galaxy.clients.translator import TranslationFailed, Translator
from galaxy.config import DiplomailConfig
from galaxy.domain.accounts import DEFAULT_LIMITS
from galaxy.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from galaxy.services.lobby.context import LobbyContext
from galaxy.services.paging import Page, load_page
from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.services.wakeups import Wakeups
from galaxy.store import accounts as account_queries
from galaxy.store import diplomail as queries
from galaxy.store.database import Connection

T = TypeVar("T")

# A store verb listing one player's messages in one game, a page at a time.
Listing = Callable[[Connection, uuid.UUID, uuid.UUID, int, int], Awaitable[tuple[Sequence[T], int]]]

log = structlog.get_logger("galaxy.diplomail")


@dataclass(frozen=True)
class Sent:
    """A message just sent: how many recipients it has, and how many copies of it wait
    for the translator (the others are delivered)."""

    message_id: uuid.UUID
    game_id: uuid.UUID
    recipients: int
    translating: int


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

    async def aclose(self) -> None:
        if self.translator is not None:
            await self.translator.aclose()

    def on_pending(self, listener: Callable[[], None]) -> Callable[[], None]:
        return self._wakeups.subscribe(listener)

    async def _reader(self, game_id: uuid.UUID, user_id: uuid.UUID) -> str:
        """The race a member reads as; members of a game that is over keep their mail."""
        return (await self.lobby.reader(game_id, user_id)).race_name

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
    ) -> Sent:
        self.check_sizes(subject, body)
        writer = await self.lobby.reader(game_id, user_id)
        live = self.lobby.cache.games.get(game_id)
        if live is None:  # over: its mail is read, not written
            raise Conflict(
                "the game is over: its mail can be read, not sent",
                code=f"game_{writer.game_status}",
            )
        sender_race = writer.race_name
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

        async def work(conn: Connection, after: AfterCommit) -> Sent:
            kinds = {s.kind for s in await account_queries.active_sanctions(conn, user_id)}
            if "diplomail_mute" in kinds:
                raise Forbidden("you may not send diplomatic mail for now", code="diplomail_muted")
            allowed = DEFAULT_LIMITS["diplomail_daily_messages"]
            for limit in await account_queries.active_limits(conn, user_id):
                if limit.kind == "diplomail_daily_messages":
                    allowed = limit.value
            if await queries.sent_today(conn, user_id) >= allowed:
                raise TooManyRequests(
                    f"you may send {allowed} diplomatic messages a day", code="daily_limit"
                )
            sender = await account_queries.get_account(conn, user_id)
            if sender is None:  # deleted between the session check and this transaction
                raise NotFound("your account no longer exists", code="account_not_found")
            language = language_of(sender.preferred_language)
            await queries.insert_message(
                conn,
                message_id=message_id,
                game_id=game_id,
                sender=user_id,
                race=sender_race,
                subject=subject,
                body=body,
                language=language,
            )
            readers = await account_queries.languages_of(conn, [m.user_id for m in recipients])
            translating = 0
            for member in recipients:
                reader = readers.get(member.user_id)
                target = language_of(reader) if reader else language
                needs = self.translator is not None and target != language
                status = "translating" if needs else "delivered"
                await queries.insert_recipient(
                    conn,
                    message_id=message_id,
                    user_id=member.user_id,
                    race=member.race_name,
                    language=target,
                    status=status,
                )
                if needs:
                    translating += 1
                else:
                    await self.announce(
                        conn, after, game_id, message_id, member.user_id, sender_race, subject
                    )
            if translating:
                after.add(self._wakeups.wake)
            return Sent(message_id, game_id, len(recipients), translating)

        return await run_unit(self.lobby.db, work, name="diplomail.send")

    async def announce(
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

    async def inbox(
        self, user_id: uuid.UUID, game_id: uuid.UUID, page: int
    ) -> Page[queries.InboxRow]:
        await self._reader(game_id, user_id)
        return await self._page(queries.inbox, user_id, game_id, page)

    async def sent(
        self, user_id: uuid.UUID, game_id: uuid.UUID, page: int
    ) -> Page[queries.SentRow]:
        await self._reader(game_id, user_id)
        return await self._page(queries.sent, user_id, game_id, page)

    async def _page(
        self, listing: Listing[T], user_id: uuid.UUID, game_id: uuid.UUID, page: int
    ) -> Page[T]:
        async def read(conn: Connection, limit: int, offset: int) -> tuple[Sequence[T], int]:
            return await listing(conn, user_id, game_id, limit, offset)

        return await load_page(self.lobby.db, page, read, name="diplomail.page")

    async def mark_read(
        self, user_id: uuid.UUID, game_id: uuid.UUID, message_id: uuid.UUID
    ) -> datetime:
        await self._reader(game_id, user_id)

        async def write(conn: Connection) -> datetime | None:
            return await queries.mark_read(conn, message_id, user_id, game_id)

        read_at = await self.lobby.db.run(write, name="diplomail.read")
        if read_at is None:
            raise NotFound("no such message in your inbox", code="message_not_found")
        return read_at

    # -- the translator's send step (the lifecycle is core/translator.py's) ------------------

    async def translate(self, pair: queries.Pair) -> queries.Translation:
        """The pair's subject and body in its reader's language; TranslationFailed when the
        translator refuses or is out of reach (the caller retries, then gives up)."""
        if self.translator is None:
            # Copies wait for translation only when a translator is configured.
            raise TranslationFailed("no translator is configured")
        subject = await self.translator.translate(pair.subject, pair.language, pair.target_language)
        body = await self.translator.translate(pair.body, pair.language, pair.target_language)
        return queries.Translation(subject, body)

    async def announce_pair(
        self, conn: Connection, after: AfterCommit, pair: queries.Pair, subject: str
    ) -> None:
        """Tell the pair's reader their copy arrived, in the transaction that delivered it."""
        await self.announce(
            conn,
            after,
            pair.game_id,
            pair.message_id,
            pair.recipient_user_id,
            pair.sender_race,
            subject,
        )
