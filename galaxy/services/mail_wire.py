"""Plain-text mail written straight to its wire form, when plain ASCII is enough.

Building an `EmailMessage` parses every header it is given and costs about a
millisecond a message, more than sending it to a local relay. The outbox's
mails are short plain text to plain addresses, so most of them are written
here directly, headers as `EmailMessage` would write them; whatever does not
fit plain ASCII (a non-ASCII subject or body, a display-name address, a line
that would need folding or encoding) is left to `EmailMessage` (None here).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# An addr-spec with nothing to quote or decode: the envelope address is the header's.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")
# Printable ASCII, the only characters a header value is written with here.
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
# RFC 5322 asks for header lines of at most 78 characters; longer ones would be folded.
HEADER_LINE = 78
# RFC 5321/5322: at most 998 characters a line for 7bit content.
BODY_LINE = 998

_MIME = (
    b'Content-Type: text/plain; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: 7bit\r\n"
    b"MIME-Version: 1.0\r\n"
)


def plain_address(address: str) -> bool:
    return _PLAIN_ADDRESS.fullmatch(address) is not None


def plain_text(headers: Sequence[tuple[str, str]], body: str) -> bytes | None:
    """The message with these headers and a text/plain body, CRLF line ends; None when
    it needs more than plain ASCII."""
    lines: list[str] = []
    for name, value in headers:
        line = f"{name}: {value}"
        if len(line) > HEADER_LINE or not _PRINTABLE.fullmatch(value):
            return None
        lines.append(line)
    if not body.endswith("\n"):
        body += "\n"  # as EmailMessage.set_content does
    if not body.isascii() or "\r" in body:
        return None
    text = body.split("\n")
    if any(len(line) > BODY_LINE for line in text):
        return None
    head = "\r\n".join(lines).encode("ascii")
    return head + b"\r\n" + _MIME + b"\r\n" + "\r\n".join(text).encode("ascii")
