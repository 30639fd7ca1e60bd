"""Diplomatic mail through HTTP, with a LibreTranslate-compatible server on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from galaxy.config import load_config
from tests.support.contract import ContractClient, assert_error_body
from tests.support.lobby import User, join, make_user
from tests.support.mail import eventually
from tests.support.players import sql
from tests.support.service import Running, admin_auth, service_environ, start_service


@dataclass
class FakeLibreTranslate:
    """A real HTTP server speaking LibreTranslate's /translate, failing when told to."""

    failures_left: int = 0
    calls: int = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.calls += 1
        if self.failures_left:
            self.failures_left -= 1
            status, answer = 503, {"error": "overloaded"}
        else:
            request = json.loads(raw)
            status, answer = 200, {"translatedText": f"[{request['target']}] {request['q']}"}
        body = json.dumps(answer).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@dataclass
class Mailroom:
    running: Running
    http: ContractClient
    translator: FakeLibreTranslate
    players: list[User]
    races: list[str]
    game_id: str

    def mail(self, path: str = "") -> str:
        return f"/api/v1/user/games/{self.game_id}/mail{path}"


@pytest.fixture
async def mailroom(db_dsn: str, tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Mailroom]:
    translator = FakeLibreTranslate()
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = config.errorlog = None
    binds = await nursery.start(
        partial(serve, cast(Any, translator), config, shutdown_trigger=trio.sleep_forever)
    )
    environ = service_environ(
        db_dsn,
        tmp_path,
        BACKEND_DIPLOMAIL_TRANSLATOR_URL=binds[0],
        BACKEND_DIPLOMAIL_WORKER_INTERVAL="50ms",
        BACKEND_DIPLOMAIL_TRANSLATOR_MAX_ATTEMPTS="3",
        BACKEND_DIPLOMAIL_MAX_BODY_BYTES="64",
        BACKEND_DIPLOMAIL_MAX_SUBJECT_BYTES="16",
    )
    running = await start_service(nursery, load_config(environ))
    async with httpx.AsyncClient(base_url=running.http, timeout=30) as client:
        http = ContractClient(client)
        owner = await make_user(running, http, "owner@example.org")
        players = [await make_user(running, http, f"p{n}@example.org") for n in range(3)]
        game_id = (await owner.enrolling(min_players=2))["game_id"]
        races = ["Vogons", "Zorgons", "Crabs"]
        for player, race in zip(players, races, strict=True):
            await join(owner, player, game_id, race)
        german = await http.patch(
            "/api/v1/user/account/settings",
            json={"preferred_language": "de-DE"},
            headers=players[1].headers,
        )
        assert german.status_code == 200
        yield Mailroom(running, http, translator, players, races, game_id)
    running.service.stop()


def pushes(running: Running) -> list[dict[str, Any]]:
    rows = sql(
        running,
        "SELECT payload FROM notifications WHERE kind = 'diplomail.message.received'"
        " ORDER BY created_at",
    )
    return [row[0] for row in rows]


async def test_mail_is_translated_per_reader_and_read_state_kept(mailroom: Mailroom) -> None:
    room, (vogon, zorgon, crab) = mailroom, mailroom.players
    sent = await room.http.post(
        room.mail(),
        json={"to": ["Zorgons", "Crabs"], "subject": "Peace?", "body": "Shall we stop?"},
        headers=vogon.headers,
    )
    assert sent.status_code == 201 and sent.json()["translating"] == 1
    crab_inbox = (await room.http.get(room.mail("/inbox"), headers=crab.headers)).json()
    (for_crab,) = crab_inbox["items"]
    assert (for_crab["body"], for_crab["translation"]) == ("Shall we stop?", "none")

    async def translated() -> bool:
        items = (await room.http.get(room.mail("/inbox"), headers=zorgon.headers)).json()["items"]
        return bool(items)

    await eventually(translated)
    (for_zorgon,) = (await room.http.get(room.mail("/inbox"), headers=zorgon.headers)).json()[
        "items"
    ]
    assert for_zorgon["body"] == "[de] Shall we stop?" and for_zorgon["subject"] == "[de] Peace?"
    assert (
        for_zorgon["original_body"] == "Shall we stop?"
        and for_zorgon["translation"] == "translated"
    )
    assert for_zorgon["sender_race"] == "Vogons" and for_zorgon["read_at"] is None
    assert len(pushes(room.running)) == 2

    # only the form openapi.yaml names: `uuid.UUID()` would also take these
    message_id = str(for_zorgon["message_id"])
    for other_form in (message_id.replace("-", ""), f"urn:uuid:{message_id}", f"{{{message_id}}}"):
        refused = await room.http.post(room.mail(f"/{other_form}/read"), headers=zorgon.headers)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_id"
    read = await room.http.post(room.mail(f"/{message_id.upper()}/read"), headers=zorgon.headers)
    assert read.status_code == 200
    assert read.json()["message_id"] == message_id
    mine = (await room.http.get(room.mail("/sent"), headers=vogon.headers)).json()
    (message,) = mine["items"]
    assert message["recipients"] == [
        {"race": "Crabs", "status": "delivered", "translation": "none", "read": False},
        {"race": "Zorgons", "status": "delivered", "translation": "translated", "read": True},
    ]


async def test_the_original_is_delivered_when_the_translator_keeps_failing(
    mailroom: Mailroom,
) -> None:
    room, (vogon, zorgon, _) = mailroom, mailroom.players
    room.translator.failures_left = 1000
    await room.http.post(
        room.mail(), json={"to": ["Zorgons"], "body": "Hello"}, headers=vogon.headers
    )

    async def delivered() -> bool:
        items = (await room.http.get(room.mail("/inbox"), headers=zorgon.headers)).json()["items"]
        return bool(items)

    await eventually(delivered)
    (item,) = (await room.http.get(room.mail("/inbox"), headers=zorgon.headers)).json()["items"]
    assert (item["body"], item["translation"]) == ("Hello", "failed")
    assert room.translator.calls == 3  # BACKEND_DIPLOMAIL_TRANSLATOR_MAX_ATTEMPTS


async def test_bad_mail_is_refused(mailroom: Mailroom) -> None:
    room, (vogon, zorgon, _) = mailroom, mailroom.players
    for body, code in [
        ({"to": ["Zorgons"], "body": "x" * 65}, "body_too_long"),
        ({"to": ["Zorgons"], "body": "é" * 33}, "body_too_long"),  # 66 bytes
        ({"to": ["Zorgons"], "subject": "s" * 17, "body": "hi"}, "subject_too_long"),
        ({"to": ["Zorgons"], "body": "   "}, "invalid_body"),
        ({"to": ["Martians"], "body": "hi"}, "unknown_recipient"),
        ({"to": ["Vogons"], "body": "hi"}, "unknown_recipient"),
        ({"to": [], "body": "hi"}, "unknown_recipient"),
    ]:
        assert_error_body(
            await room.http.post(room.mail(), json=body, headers=vogon.headers), 400, code
        )
    stranger = await make_user(room.running, room.http, "stranger@example.org")
    outsider = await room.http.post(
        room.mail(), json={"to": ["Zorgons"], "body": "hi"}, headers=stranger.headers
    )
    assert_error_body(outsider, 403, "not_a_member")
    await room.http.post(
        f"/api/v1/admin/users/{vogon.user_id}/sanctions",
        json={"kind": "diplomail_mute", "reason": "spam"},
        auth=admin_auth(),
    )
    muted = await room.http.post(
        room.mail(), json={"to": ["Zorgons"], "body": "hi"}, headers=vogon.headers
    )
    assert_error_body(muted, 403, "diplomail_muted")
    unknown = await room.http.post(
        room.mail("/0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b22/read"), headers=zorgon.headers
    )
    assert_error_body(unknown, 404, "message_not_found")
