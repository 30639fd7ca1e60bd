"""Email-code login: challenges, their mail, and the device session they lead to.

`send_email_code` answers alike for a new address, a known one and a
throttled one, so it reveals nothing about who has an account; only a
permanently blocked address is refused. The challenge and its mail commit in
one transaction. `confirm_email_code` spends one attempt per wrong code up to
the ceiling, then the challenge is dead (no longer counted by the throttle,
never answered again); a right code is single use.

Budgets. Per address, in PostgreSQL under the address's advisory lock (so
they hold across processes): the throttle on usable challenges, and wrong
codes across challenges (`BACKEND_AUTH_WRONG_CODES_*`), past which every
code of the address is refused for a while, right or wrong. Per client
address (the gateway's leftmost X-Forwarded-For, else the peer), in this
process: code requests (`BACKEND_AUTH_CLIENT_SEND_*`, which bounds the mail
one client can cause across addresses) and failed confirmations
(`BACKEND_AUTH_CLIENT_CONFIRM_*`). A slot is charged before the work and
given back when the work was not the client's failure (a login, a 5xx).
Every refusal is a 429 with `Retry-After`.
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
from galaxy.services.rate_limit import Budget
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
        self.sends = Budget(config.client_send_max, config.client_send_window)
        self.failed_confirms = Budget(config.client_confirm_max, config.client_confirm_window)
        self._outcomes = (
            telemetry.counter("auth_outcomes_total", "Login steps by step and outcome")
            if telemetry is not None
            else None
        )

    def _count(self, step: str, outcome: str) -> None:
        if self._outcomes is not None:
            self._outcomes.add(1, {"step": step, "outcome": outcome})

    def _charge(self, budget: Budget, client: str, step: str, code: str, what: str) -> None:
        """Take a slot of a per-client budget, or refuse (429, counted) when it is spent."""
        wait = budget.take(client)
        if wait is not None:
            self._count(step, code)
            raise TooManyRequests(
                f"too many {what} from this address; try again later",
                code=code,
                retry_after=wait,
            )

    async def send_email_code(
        self, email: str, locale: str | None, source_ip: str | None = None
    ) -> uuid.UUID:
        """Issue a challenge and enqueue its code; `email` is normalised already."""
        config = self._config
        client = _client_key(source_ip)
        self._charge(self.sends, client, "send", "too_many_code_requests", "login codes requested")

        async def work(conn: Connection, after: AfterCommit) -> tuple[uuid.UUID, bool]:
            await queries.lock_email(conn, email)
            if await queries.is_blocked(conn, email):
                raise InvalidInput("this address cannot sign in", code="email_blocked")
            live = await queries.live_challenges(
                conn, email, config.throttle_window, config.challenge_max_attempts
            )
            if len(live) >= config.throttle_max:
                return live[0], True  # past the limit: the newest usable challenge, no new mail
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
            if error.http_status >= 500:
                self.sends.refund(client)  # our failure, not the client's request
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
        client = _client_key(source_ip)
        self._charge(
            self.failed_confirms,
            client,
            "confirm",
            "too_many_failed_confirmations",
            "failed login confirmations",
        )

        async def work(conn: Connection, after: AfterCommit) -> Login | GalaxyError:
            # A refusal that must still commit (a spent attempt, a consumed
            # code) is returned, and raised once the transaction is over.
            email = await queries.challenge_email(conn, challenge_id)
            if email is None:
                raise NotFound("no such challenge", code="challenge_not_found")
            # The address's lock first, as send_email_code takes it: the wrong
            # codes of all its challenges are counted and added one at a time.
            await queries.lock_email(conn, email)
            challenge = await queries.lock_challenge(conn, challenge_id)
            if challenge is None:
                raise NotFound("no such challenge", code="challenge_not_found")
            if challenge.consumed_at is not None:
                raise Conflict("this code has been used already", code="challenge_consumed")
            if challenge.expired:
                raise InvalidInput(
                    "this code has expired; ask for a new one", code="challenge_expired"
                )
            capped = await queries.wrong_codes_wait(
                conn, email, config.wrong_codes_window, config.wrong_codes_max
            )
            if capped is not None:
                raise TooManyRequests(
                    "too many wrong codes for this address; try again later",
                    code="too_many_wrong_codes",
                    retry_after=capped,
                )
            if challenge.attempts >= config.challenge_max_attempts:
                raise TooManyRequests(
                    "too many wrong codes; ask for a new one",
                    code="too_many_attempts",
                    retry_after=0,  # a new code may be asked for at once
                )
            if not code_matches(challenge_id, code, challenge.code_hash):
                await queries.count_attempt(conn, challenge_id)
                await queries.record_wrong_code(conn, email, config.wrong_codes_window)
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
            if error.http_status >= 500:
                self.failed_confirms.refund(client)  # our failure, not the client's
            self._count("confirm", error.code)
            raise
        if isinstance(outcome, GalaxyError):
            self._count("confirm", outcome.code)
            raise outcome
        self.failed_confirms.refund(client)  # a login is no failure
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


def _client_key(source_ip: str | None) -> str:
    """The per-client budget key: the address as forwarded, bounded in size."""
    return (source_ip or "unknown")[:64]
