"""Hostile orders and commands never reach a game's actor (issue 16).

NaN, Infinity and lone surrogates in orders or commands used to crash the
game's actor (its engine call could not encode them), 122 restarts in one
attack run, each one stalling the other players' calls for seconds and
answering a 500 that showed the actor's path and the request body. The edge
now refuses them with 400 `invalid_json`, and the actor never sees them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.runtime.test_lifecycle import RUNTIME, started_game
from tests.support.contract import ContractClient, assert_error_body
from tests.support.service import Running, admin_auth

HOSTILE_ORDERS = [
    b'{"turn": 0, "orders": [{"op": "produce", "planet": NaN, "what": "drive"}]}',
    b'{"turn": 0, "orders": [{"op": "design", "name": "Scout", "drive": Infinity}]}',
    b'{"turn": 0, "orders": [{"op": "design", "name": "Scout", "drive": -Infinity}]}',
    b'{"turn": 0, "orders": [{"op": "design", "name": "\\ud800", "drive": 1}]}',
    b'{"turn": 0, "orders": [{"op": "design", "name": "Scout", "drive": 1e999}]}',
]
HOSTILE_COMMANDS = [
    b'{"commands": [{"op": "message", "to": "Zorgons", "text": "\\ud800"}]}',
    b'{"commands": [{"op": "message", "to": "Zorgons", "text": "hi", "x": NaN}]}',
    b'{"commands": [{"op": "renamePlanet", "planet": Infinity, "name": "Mine"}]}',
    b'{"commands": [{"op": "declare", "race": "\\udc00Zorgons", "stance": "peace"}]}',
]


def game_actor(tree: dict[str, Any], gid: str) -> dict[str, Any]:
    pending = [tree]
    while pending:
        node = pending.pop()
        if node["name"] == f"game:{gid}":
            return node
        pending.extend(node["children"])
    raise AssertionError(f"no actor for game {gid}")


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_hostile_orders_and_commands_are_400s_and_the_actor_never_restarts(
    running: Running, http: ContractClient
) -> None:
    _, (vogon, _), gid = await started_game(running, http)
    games = f"/api/v1/user/games/{gid}"
    headers = {**vogon.headers, "Content-Type": "application/json"}
    for path, bodies in (("orders", HOSTILE_ORDERS), ("commands", HOSTILE_COMMANDS)):
        for body in bodies:
            response = await http.post(f"{games}/{path}", content=body, headers=headers)
            assert_error_body(response, 400, "invalid_json")
            assert "game:" not in response.text

    tree = (await http.get("/api/v1/admin/actors", auth=admin_auth())).json()["root"]
    actor = game_actor(tree, gid)
    assert actor["restarts"] == 0 and actor["last_error"] is None, actor
    assert actor["status"] == "running"
    # and the game still takes well-formed orders
    answer = await http.post(f"{games}/orders", json={"turn": 0, "orders": []}, headers=headers)
    assert answer.status_code == 200, answer.text
