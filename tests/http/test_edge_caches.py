"""The edge's two small per-request caches: hypercorn's response headers, made once a
second, and the X-User-ID texts already parsed."""

from __future__ import annotations

import time
import uuid
from wsgiref.handlers import format_date_time

import hypercorn.config
import pytest
from hypercorn.config import Config as HypercornConfig

from galaxy.domain.errors import InvalidInput
from galaxy.http import guards
from galaxy.http.server import _EdgeConfig


def test_response_headers_are_hypercorns_with_the_date_made_once_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_800_000_000.2]
    monkeypatch.setattr(time, "time", lambda: now[0])
    monkeypatch.setattr(hypercorn.config, "time", lambda: now[0])  # its `from time import time`
    edge, stock = _EdgeConfig(), HypercornConfig()
    first = edge.response_headers("h11")
    assert first == stock.response_headers("h11")
    assert dict(first)[b"date"] == format_date_time(now[0]).encode()
    first.append((b"x-mine", b"changed"))  # a caller's list is its own
    now[0] += 0.7
    assert edge.response_headers("h11") == stock.response_headers("h11")
    now[0] += 0.2  # the next second
    later = edge.response_headers("h11")
    assert dict(later)[b"date"] == format_date_time(now[0]).encode() != dict(first)[b"date"]
    assert edge.response_headers("h2") == stock.response_headers("h2")  # per protocol


def test_a_user_id_is_parsed_strictly_and_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guards, "_USER_IDS", {})
    monkeypatch.setattr(guards, "_USER_IDS_KEPT", 3)
    given = uuid.uuid4()
    assert guards.user_id_of(str(given)) == given
    assert guards.user_id_of(str(given)) == given  # kept
    for raw in ("", "nope", given.hex, f"{{{given}}}", f"urn:uuid:{given}"):
        with pytest.raises(InvalidInput):
            guards.user_id_of(raw)
    assert list(guards._USER_IDS) == [str(given)]  # what was refused is not kept
    for _ in range(5):
        guards.user_id_of(str(uuid.uuid4()))
    assert len(guards._USER_IDS) <= 3  # bounded, whatever ids callers send
    with pytest.raises(InvalidInput):
        guards.user_id_of(None)
