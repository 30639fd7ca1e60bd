"""Mails in wire form: what the outbox writes directly reads back as EmailMessage's would."""

from __future__ import annotations

import email
import json
import uuid
from email import policy
from email.message import EmailMessage
from typing import cast

import pytest

from galaxy.services import mail as services_mail
from galaxy.services.mail import MailOutbox
from galaxy.services.mail_wire import plain_text
from galaxy.store.database import Database
from galaxy.store.mail import ClaimedDelivery


def delivery(template_id: str, data: dict[str, object], *recipients: str) -> ClaimedDelivery:
    return ClaimedDelivery(
        uuid.uuid4(),
        template_id,
        0,
        0,
        f"<{uuid.uuid4()}.ab12@test.example>",
        json.dumps(data).encode(),
        list(recipients or ["p0@example.org"]),
    )


def outbox(from_address: str = "galaxy@test.example") -> MailOutbox:
    # Composing reads nothing from the database.
    return MailOutbox(cast(Database, None), from_address=from_address)


def as_emailmessage(wire: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(wire, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize(
    ("template_id", "data"),
    [
        ("auth.login_code", {"code": "493817", "ttl_minutes": 10}),
        ("lobby.membership.blocked", {"game_id": "g-1"}),
        ("lobby.membership.removed", {"game_id": "g-1", "reason": "a line\n.with a dot"}),
    ],
)
def test_a_plain_mail_in_wire_form_reads_as_the_emailmessage_would(
    template_id: str, data: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    mail = outbox()
    claimed = delivery(template_id, data, "p0@example.org", "p1@example.org")
    monkeypatch.setattr(services_mail, "formatdate", lambda usegmt: "Fri, 27 Nov 2026 19:35:33 GMT")
    outgoing = mail.compose(claimed)
    assert isinstance(outgoing.content, bytes)
    assert outgoing.sender == "galaxy@test.example"
    assert outgoing.recipients == ("p0@example.org", "p1@example.org")
    assert b"\n" not in outgoing.content.replace(b"\r\n", b"")  # CRLF line ends only

    monkeypatch.setattr(services_mail, "plain_text", lambda headers, body: None)
    reference = mail.compose(claimed).content  # the same mail through EmailMessage
    assert isinstance(reference, EmailMessage)

    wired = as_emailmessage(outgoing.content)
    expected = as_emailmessage(reference.as_bytes(policy=policy.SMTP))
    assert list(wired.items()) == list(expected.items())
    assert wired.get_content() == expected.get_content()
    assert wired["Message-ID"] == claimed.message_id
    assert wired["X-Galaxy-Delivery"] == str(claimed.delivery_id)


def test_what_is_beyond_plain_ascii_is_left_to_emailmessage() -> None:
    unicode_subject = delivery("lobby.race_name.pending", {"race_name": "Zörg", "expires_at": "x"})
    outgoing = outbox().compose(unicode_subject)
    assert isinstance(outgoing.content, EmailMessage)
    assert "Zörg" in str(outgoing.content["Subject"])

    named_sender = outbox("Galaxy <galaxy@test.example>").compose(
        delivery("lobby.membership.blocked", {"game_id": "g"})
    )
    assert isinstance(named_sender.content, EmailMessage)

    named_recipient = outbox().compose(
        delivery("lobby.membership.blocked", {"game_id": "g"}, "Player <p0@example.org>")
    )
    assert isinstance(named_recipient.content, EmailMessage)


def test_plain_text_refuses_what_it_would_have_to_fold_or_encode() -> None:
    assert plain_text([("Subject", "x" * 80)], "body\n") is None  # a header line to fold
    assert plain_text([("Subject", "a\r\nBcc: x@y")], "body\n") is None  # an injection
    assert plain_text([("Subject", "s")], "é\n") is None  # 8-bit content
    assert plain_text([("Subject", "s")], "x" * 999 + "\n") is None  # too long for SMTP
    assert plain_text([("Subject", "s")], "no final newline") == (
        b"Subject: s\r\n"
        b'Content-Type: text/plain; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: 7bit\r\n"
        b"MIME-Version: 1.0\r\n"
        b"\r\n"
        b"no final newline\r\n"
    )
