"""Players for tests: log in through the public surface, reading codes from real mail."""

from __future__ import annotations

import base64
import mailbox
import re
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import psycopg
import trio
from nacl.signing import SigningKey

from tests.support.contract import ContractClient
from tests.support.service import Running

SEND = "/api/v1/public/auth/send-email-code"
CONFIRM = "/api/v1/public/auth/confirm-email-code"
_CODE = re.compile(r"login code is (\d{6})")


@dataclass
class Player:
    email: str
    device_session_id: str
    user_id: str
    key: SigningKey

    @property
    def headers(self) -> dict[str, str]:
        """What the gateway injects on the user surface."""
        return {"X-User-ID": self.user_id}


def public_key(key: SigningKey) -> str:
    return base64.b64encode(bytes(key.verify_key)).decode()


def codes_for(running: Running, email: str) -> list[str]:
    """Every login code mailed to `email` so far, oldest first (from the sink's Maildir)."""
    assert running.endpoints.maildir is not None
    return codes_in(Path(running.endpoints.maildir), email)


def mails_in(maildir: Path, email: str) -> list[Message]:
    """Every message in `maildir` for `email`, oldest first."""
    box = mailbox.Maildir(maildir, create=False)
    found = [
        (_arrival(key), message)
        for key, message in box.items()
        if str(message["To"]).lower() == email.lower()
    ]
    return [message for _, message in sorted(found, key=lambda item: item[0])]


def codes_in(maildir: Path, email: str) -> list[str]:
    """Every login code in `maildir` for `email`, oldest first."""
    return codes_of(mails_in(maildir, email))


def codes_of(messages: list[Message]) -> list[str]:
    """The login codes in `messages`, in their order."""
    matches = (_CODE.search(_text(message)) for message in messages)
    return [match.group(1) for match in matches if match]


async def mail_to(running: Running, email: str, count: int = 1) -> list[Message]:
    """Wait until `count` messages for `email` are in the service's Maildir; all of them."""
    assert running.endpoints.maildir is not None
    maildir = Path(running.endpoints.maildir)
    with trio.fail_after(20):
        while len(found := mails_in(maildir, email)) < count:  # noqa: ASYNC110 - a Maildir has no event
            await trio.sleep(0.02)
    return found


def _arrival(key: str) -> tuple[int, ...]:
    """Maildir names start `<seconds>.M<microseconds>P<pid>Q<counter>`: arrival order."""
    match = re.match(r"^(\d+)\.M(\d+)P\d+Q(\d+)", key)
    assert match, key
    return tuple(int(part) for part in match.groups())


def _text(message: Message) -> str:
    payload: Any = message.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode()
    return str(message.get_payload())


async def mailed_code(running: Running, email: str, count: int = 1) -> str:
    """Wait for the `count`th code mailed to `email` and return it."""
    with trio.fail_after(20):
        while len(codes := codes_for(running, email)) < count:  # noqa: ASYNC110 - a Maildir has no event
            await trio.sleep(0.02)
    return codes[count - 1]


async def request_code(http: ContractClient, email: str, **extra: Any) -> str:
    response = await http.post(SEND, json={"email": email, **extra})
    assert response.status_code == 200, response.text
    challenge_id: str = response.json()["challenge_id"]
    return challenge_id


async def confirm(
    http: ContractClient,
    challenge_id: str,
    code: str,
    key: SigningKey | None = None,
    time_zone: str = "Europe/Berlin",
) -> Any:
    body = {
        "challenge_id": challenge_id,
        "code": code,
        "client_public_key": public_key(key or SigningKey.generate()),
        "time_zone": time_zone,
    }
    return await http.post(CONFIRM, json=body)


async def login(
    http: ContractClient, running: Running, email: str, *, mail_number: int = 1, **extra: Any
) -> Player:
    """A full login; `mail_number` counts the codes this address has been sent."""
    challenge_id = await request_code(http, email, **extra)
    code = await mailed_code(running, email, mail_number)
    key = SigningKey.generate()
    response = await confirm(http, challenge_id, code, key)
    assert response.status_code == 200, response.text
    session_id = response.json()["device_session_id"]
    lookup = await http.get(f"/api/v1/internal/sessions/{session_id}")
    assert lookup.status_code == 200, lookup.text
    return Player(email, session_id, lookup.json()["user_id"], key)


def sql(running: Running, query: str, *params: object) -> list[tuple[Any, ...]]:
    """Run one statement on the service's database, as an operator's psql would.

    For reads only, from a test's trio task: it blocks the thread the service runs on.
    A write may wait for a row lock the service holds in a transaction that needs that
    very thread to end, and the two wait for each other: writes go through `asql`."""
    assert running.config.postgres.dsn is not None
    with psycopg.connect(running.config.postgres.dsn) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


async def asql(running: Running, query: str, *params: object) -> list[tuple[Any, ...]]:
    """`sql` on a worker thread, so that the service keeps running while it waits: for
    writes, which may wait for a lock the service holds."""
    return await trio.to_thread.run_sync(lambda: sql(running, query, *params))


async def sign_up(
    http: ContractClient,
    running: Running,
    email: str,
    ip: str,
    *,
    sent_with: dict[str, str] | None = None,
    looked_up_with: dict[str, str] | None = None,
) -> tuple[str, str]:
    """A first login from `ip`, named in X-Forwarded-For as a gateway would: (user id,
    session id). `sent_with`: headers of the confirmation (the gateway's token, say);
    `looked_up_with`: those of the session lookup."""
    challenge_id = await request_code(http, email)
    code = await mailed_code(running, email)
    body = {
        "challenge_id": challenge_id,
        "code": code,
        "client_public_key": public_key(SigningKey.generate()),
        "time_zone": "UTC",
    }
    headers = {"X-Forwarded-For": f"{ip}, 10.0.0.1", **(sent_with or {})}
    response = await http.post(CONFIRM, json=body, headers=headers)
    assert response.status_code == 200, response.text
    session = response.json()["device_session_id"]
    looked = await http.get(f"/api/v1/internal/sessions/{session}", headers=looked_up_with)
    return looked.json()["user_id"], session
