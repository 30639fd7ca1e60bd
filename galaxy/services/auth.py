"""Email-code login: challenges, their mail, and the device session they lead to.

`send_email_code` answers alike for a new address, a known one and a
throttled one, so it reveals nothing about who has an account; only a
permanently blocked address is refused. The challenge and its mail commit in
one transaction. `confirm_email_code` spends one attempt per wrong code up to
the ceiling, then the challenge is dead; a right code is single use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog

from galaxy.config import AuthConfig
from galaxy.domain.accounts import DEFAULT_LANGUAGE
from galaxy.domain.auth import code_hash, code_matches, new_login_code
from galaxy.domain.errors import (
    Conflict,
    Forbidden,
    GalaxyError,
    InvalidInput,
    NotFound,
    TooManyRequests,
)
from galaxy.logging import email_hash
from galaxy.services.accounts import Accounts
from galaxy.services.mail import MailOutbox
from galaxy.services.sessions import Sessions
from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.services.user_hooks import GeoSignals
from galaxy.store import auth as queries
from galaxy.store.database import Connection, Database
from galaxy.telemetry import Telemetry

log = structlog.get_logger("galaxy.auth")


@dataclass(frozen=True)
class Login:
    device_session_id: uuid.UUID
    user_id: uuid.UUID
    new_account: bool


class Auth:
    def __init__(
        self,
        db: Database,
        config: AuthConfig,
        *,
        mail: MailOutbox,
        accounts: Accounts,
        sessions: Sessions,
        geo: GeoSignals,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._db = db
        self._config = config
        self._mail = mail
        self._accounts = accounts
        self._sessions = sessions
        self.geo = geo
        self._outcomes = (
            telemetry.counter("auth_outcomes_total", "Login steps by step and outcome")
            if telemetry is not None
            else None
        )

    def _count(self, step: str, outcome: str) -> None:
        if self._outcomes is not None:
            self._outcomes.add(1, {"step": step, "outcome": outcome})

    async def send_email_code(self, email: str, locale: str | None) -> uuid.UUID:
        """Issue a challenge and enqueue its code; `email` is normalised already."""
        config = self._config

        async def work(conn: Connection, after: AfterCommit) -> tuple[uuid.UUID, bool]:
            await queries.lock_email(conn, email)
            if await queries.is_blocked(conn, email):
                raise InvalidInput("this address cannot sign in", code="email_blocked")
            live = await queries.live_challenges(conn, email, config.throttle_window)
            if len(live) >= config.throttle_max:
                return live[0], True  # past the limit: the newest live challenge, no new mail
            challenge_id = uuid.uuid4()
            code = new_login_code()
            await queries.insert_challenge(
                conn,
                challenge_id,
                email,
                code_hash(challenge_id, code),
                locale,
                config.challenge_ttl,
            )
            await self._mail.enqueue_login_code(email, code, config.challenge_ttl, conn=conn)
            after.add(self._mail.notify)
            return challenge_id, False

        try:
            challenge_id, throttled = await run_unit(self._db, work, name="auth.send_email_code")
        except GalaxyError as error:
            self._count("send", error.code)
            raise
        self._count("send", "throttled" if throttled else "sent")
        log.info(
            "auth.code_requested",
            email_hash=email_hash(email),
            challenge_id=str(challenge_id),
            throttled=throttled,
        )
        return challenge_id

    async def confirm_email_code(
        self,
        challenge_id: uuid.UUID,
        code: str,
        public_key: bytes,
        time_zone: str,
        source_ip: str | None,
    ) -> Login:
        config = self._config

        async def work(conn: Connection, after: AfterCommit) -> Login | GalaxyError:
            # A refusal that must still commit (a spent attempt, a consumed
            # code) is returned, and raised once the transaction is over.
            challenge = await queries.lock_challenge(conn, challenge_id)
            if challenge is None:
                raise NotFound("no such challenge", code="challenge_not_found")
            if challenge.consumed_at is not None:
                raise Conflict("this code has been used already", code="challenge_consumed")
            if challenge.expired:
                raise InvalidInput(
                    "this code has expired; ask for a new one", code="challenge_expired"
                )
            if challenge.attempts >= config.challenge_max_attempts:
                raise TooManyRequests(
                    "too many wrong codes; ask for a new one", code="too_many_attempts"
                )
            if not code_matches(challenge_id, code, challenge.code_hash):
                await queries.count_attempt(conn, challenge_id)
                left = config.challenge_max_attempts - challenge.attempts - 1
                return InvalidInput(
                    f"the code is not right; {left} attempt(s) left", code="invalid_code"
                )
            await queries.consume(conn, challenge_id)
            if await queries.is_blocked(conn, challenge.email):
                return Forbidden("this account is blocked", code="account_blocked")
            account, created = await self._accounts.ensure_by_email(
                conn,
                after,
                challenge.email,
                language=challenge.locale or DEFAULT_LANGUAGE,
                time_zone=time_zone,
                name_retries=config.username_max_retries,
            )
            try:
                await self._accounts.check_login_allowed(conn, account)
            except Forbidden as refused:
                return refused
            session = await self._sessions.create(conn, after, account.user_id, public_key)
            return Login(session.device_session_id, account.user_id, created)

        try:
            outcome = await run_unit(self._db, work, name="auth.confirm_email_code")
        except GalaxyError as error:
            self._count("confirm", error.code)
            raise
        if isinstance(outcome, GalaxyError):
            self._count("confirm", outcome.code)
            raise outcome
        self._count("confirm", "signed_up" if outcome.new_account else "signed_in")
        log.info(
            "auth.session_created",
            user_id=str(outcome.user_id),
            device_session_id=str(outcome.device_session_id),
            new_account=outcome.new_account,
        )
        if outcome.new_account:
            await self._declare_country(outcome.user_id, source_ip)
        return outcome

    async def _declare_country(self, user_id: uuid.UUID, source_ip: str | None) -> None:
        # Geo work never blocks or fails a login.
        try:
            await self.geo.set_declared_country_at_registration(user_id, source_ip)
        except Exception as error:
            log.warning("auth.declared_country_failed", user_id=str(user_id), error=repr(error))
