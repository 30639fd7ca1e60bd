"""The notification catalog's check of an intent, on its own."""

from __future__ import annotations

from typing import Any

import pytest

from galaxy.domain.notifications import CATALOG, Channel, Intent, Recipient, problems

ANN = Recipient("u-1", "ann@example.org")


def test_every_kind_is_area_dot_event_with_a_channel_and_fields() -> None:
    for name, kind in CATALOG.items():
        assert name.split(".")[0] in {"lobby", "runtime", "game", "diplomail"}, name
        assert kind.channels, name
        assert kind.fields, name


def test_an_intent_that_fits_the_catalog_has_no_problems() -> None:
    intent = Intent("game.turn.ready", "turn:g-1:3", {"game_id": "g-1", "turn": 3}, (ANN,))
    assert problems(intent) == []


def test_admin_kinds_go_to_operators_and_take_no_user() -> None:
    payload = {"game_id": "g-1"}
    assert CATALOG["runtime.container_start_failed"].channels == {Channel.ADMIN_EMAIL}
    assert problems(Intent("runtime.container_start_failed", "k", payload)) == []
    assert problems(Intent("runtime.container_start_failed", "k", payload, (ANN,))) == [
        "admin-channel kinds take no user recipients"
    ]


@pytest.mark.parametrize(
    ("kind", "key", "payload", "recipients", "problem"),
    [
        ("lobby.unknown", "k", {}, (ANN,), "unknown kind 'lobby.unknown'"),
        ("lobby.invite.revoked", "", {"game_id": "g"}, (ANN,), "idempotency_key must be"),
        ("lobby.invite.revoked", "k" * 201, {"game_id": "g"}, (ANN,), "idempotency_key must be"),
        ("lobby.invite.revoked", "k", {}, (ANN,), "payload.game_id is missing"),
        ("lobby.invite.revoked", "k", {"game_id": 1}, (ANN,), "payload.game_id must be str"),
        (
            "game.turn.ready",
            "k",
            {"game_id": "g", "turn": True},
            (ANN,),
            "payload.turn must be int",
        ),
        (
            "lobby.invite.revoked",
            "k",
            {"game_id": "g", "extra": 1, "more": 2},
            (ANN,),
            "unexpected payload fields: extra, more",
        ),
        ("lobby.invite.revoked", "k", {"game_id": "g"}, (), "at least one recipient is required"),
        (
            "lobby.invite.revoked",
            "k",
            {"game_id": "g"},
            (Recipient("u-2", "bcc@x.org\r\nBcc: all@x.org"),),
            "recipient u-2 has an invalid email address",
        ),
    ],
)
def test_each_problem_is_named(
    kind: str, key: str, payload: dict[str, Any], recipients: tuple[Recipient, ...], problem: str
) -> None:
    found = problems(Intent(kind, key, payload, recipients))
    assert len(found) == 1, found
    assert found[0].startswith(problem)
