"""The engine's own input checks: hostile JSON, values of the wrong type, Unicode digits.

The backend checks what players send before it reaches an engine, but the
engine is a program of its own with its own contract: whatever arrives, it
answers 4xx per ENGINE.md, never a 500, and never takes `true` for 1.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.test_engine_http import assert_error_body_extra, init_body, started
from tests.support.contract import ContractClient, assert_error_body

JSON = {"content-type": "application/json"}
ORDERS = b'{"raceName": "Aliens", "turn": 0, "orders": [{"op": "design", %s}]}'
HOSTILE = {
    "nan": ORDERS % b'"drive": NaN',
    "infinity": ORDERS % b'"drive": Infinity',
    "lone-surrogate": ORDERS % b'"name": "\\ud800"',
    "deep": ORDERS % (b'"drive": ' + b"[" * 50_000 + b"]" * 50_000),
    "huge-integer": ORDERS % (b'"drive": ' + b"9" * 5000),
}


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/v1/order"),
        ("PUT", "/api/v1/command"),
        ("POST", "/api/v1/admin/race/banish"),
        ("POST", "/api/v1/admin/init"),
    ],
)
async def test_hostile_json_is_malformed(
    engine: ContractClient, kind: str, method: str, path: str
) -> None:
    if path != "/api/v1/admin/init":
        await started(engine)
    response = await engine.request(method, path, content=HOSTILE[kind], headers=JSON)
    assert_error_body(response, 400, "malformed")


@pytest.mark.parametrize("turn", ["²", "\u0661", "1²", "9" * 5000, "-1", "+1"])
async def test_a_report_turn_is_ascii_digits_only(engine: ContractClient, turn: str) -> None:
    await started(engine)
    response = await engine.get("/api/v1/report", params={"race": "Aliens", "turn": turn})
    assert_error_body(response, 404, "unknown_turn")


LISTS_AND_OBJECTS: list[Any] = [[], ["Beings"], {}, {"a": 1}]


@pytest.mark.parametrize("value", LISTS_AND_OBJECTS, ids=repr)
@pytest.mark.parametrize(
    "command",
    [
        {"op": "declare", "race": None, "stance": "peace"},
        {"op": "declare", "race": "Beings", "stance": None},
        {"op": "renamePlanet", "planet": None, "name": "Mine"},
        {"op": "renamePlanet", "planet": 0, "name": None},
        {"op": "renameShipType", "from": None, "to": "Other"},
        {"op": "renameShipType", "from": "Scout", "to": None},
        {"op": "message", "to": None, "text": "hello"},
        {"op": "message", "to": "Beings", "text": None},
        {"op": None},
    ],
    ids=lambda c: f"{c['op']}-{next((k for k, v in c.items() if v is None), 'op')}",
)
async def test_commands_with_lists_or_objects_are_rejected_not_a_500(
    engine: ContractClient, command: dict[str, Any], value: Any
) -> None:
    await started(engine)
    filled = {k: value if v is None else v for k, v in command.items()}
    body = {"raceName": "Aliens", "commands": [filled]}
    refused = await engine.put("/api/v1/command", json=body)
    assert_error_body_extra(refused, 400, "commands_rejected")
    assert refused.json()["results"][0]["status"] == "rejected"


async def test_true_is_not_planet_1(engine: ContractClient) -> None:
    await started(engine)
    report = (await engine.get("/api/v1/report", params={"race": "Aliens"})).json()
    owned = {p["id"] for p in report["planets"] if p["kind"] == "local"}
    assert 1 in owned  # so `true`, taken for 1, would rename a planet of the caller's
    rename = {"op": "renamePlanet", "planet": True, "name": "X"}
    body = {"raceName": "Aliens", "commands": [rename]}
    refused = await engine.put("/api/v1/command", json=body)
    assert_error_body_extra(refused, 400, "commands_rejected")
    after = (await engine.get("/api/v1/report", params={"race": "Aliens"})).json()
    assert "X" not in {p.get("name") for p in after["planets"]}


@pytest.mark.parametrize("value", LISTS_AND_OBJECTS, ids=repr)
@pytest.mark.parametrize(
    "order",
    [
        {"op": "produce", "planet": "PRIME", "what": "ship", "shipType": None},
        {"op": "produce", "planet": "PRIME", "what": None},
        {"op": "produce", "planet": None, "what": "drive"},
        {"op": "design", "name": None, "drive": 1},
        {"op": "design", "name": "Scout", "drive": None},
        {"op": "design", "name": "Scout", "drive": 1, "attacks": None},
        {"op": "send", "group": None, "to": 1},
        {"op": "load", "group": None, "cargo": "colonists"},
        {"op": "unload", "group": None},
        {"op": None},
    ],
    ids=lambda o: f"{o['op']}-{next((k for k, v in o.items() if v is None), 'op')}",
)
async def test_orders_with_lists_or_objects_are_rejected_not_a_500(
    engine: ContractClient, order: dict[str, Any], value: Any
) -> None:
    await started(engine)
    report = (await engine.get("/api/v1/report", params={"race": "Aliens"})).json()
    prime = next(p for p in report["planets"] if p["kind"] == "local" and p["size"] == 1000)
    filled = {
        k: value if v is None else prime["id"] if v == "PRIME" else v for k, v in order.items()
    }
    body = {"raceName": "Aliens", "turn": 0, "orders": [filled]}
    answer = await engine.put("/api/v1/order", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["status"] == "rejected"


@pytest.mark.parametrize(
    "body",
    [
        {"raceName": ["Aliens"], "turn": 0, "orders": []},
        {"raceName": "Aliens", "turn": True, "orders": []},
        {"raceName": "Aliens", "turn": [0], "orders": []},
        {"raceName": "Aliens", "turn": 0, "orders": {"op": "design"}},
    ],
    ids=["race-list", "turn-true", "turn-list", "orders-object"],
)
async def test_order_bodies_of_the_wrong_shape_are_refused(
    engine: ContractClient, body: dict[str, Any]
) -> None:
    await started(engine)
    response = await engine.put("/api/v1/order", json=body)
    assert 400 <= response.status_code < 500, response.text


async def test_init_with_lists_for_settings_is_refused(engine: ContractClient) -> None:
    settings: object
    for settings in ([], {"seed": [1]}, {"seed": True}, {"width": [10]}):
        body = {**init_body(), "settings": settings}
        assert_error_body(await engine.post("/api/v1/admin/init", json=body), 400, "invalid_init")
