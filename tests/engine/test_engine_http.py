"""The engine over HTTP, every exchange checked against engine-openapi.yaml."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.contract import ContractClient, assert_error_body, engine_spec
from tests.support.engine import GAME_ID, PLAYERS

INIT = "/api/v1/admin/init"


def init_body(races: int = 2, **settings: Any) -> dict[str, Any]:
    return {
        "gameId": GAME_ID,
        "races": [{"raceName": n, "playerId": p} for n, p in list(PLAYERS.items())[:races]],
        "settings": {"seed": 7, "planetsPerRace": 5, **settings},
    }


def assert_error_body_extra(response: Any, status: int, code: str) -> None:
    """An engine error that carries per-item results next to the error."""
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def started(engine: ContractClient, **settings: Any) -> dict[str, Any]:
    response = await engine.post(INIT, json=init_body(**settings))
    assert response.status_code == 201, response.text
    status: dict[str, Any] = response.json()
    return status


async def test_init_creates_turn_zero_and_a_second_init_conflicts(engine: ContractClient) -> None:
    assert (await engine.get("/healthz")).json() == {"status": "ok", "initialised": False}
    assert_error_body(await engine.get("/api/v1/admin/status"), 409, "not_initialised")
    assert_error_body(await engine.put("/api/v1/admin/turn"), 409, "not_initialised")
    status = await started(engine)
    assert status["turn"] == 0 and status["phase"] == "running" and status["gameId"] == GAME_ID
    assert [(r["name"], r["planets"], r["population"]) for r in status["races"]] == [
        ("Aliens", 3, 1000.0),
        ("Beings", 3, 1000.0),
    ]
    assert_error_body(await engine.post(INIT, json=init_body()), 409, "already_initialised")
    assert (await engine.get("/healthz")).json()["initialised"] is True


@pytest.mark.parametrize(
    "body",
    [
        {**init_body(), "gameId": "00000000-0000-0000-0000-000000000000"},
        {**init_body(), "gameId": "not-a-uuid"},
        {"races": init_body()["races"]},
        {**init_body(), "races": init_body()["races"][:1]},
        {**init_body(), "races": [{"raceName": "A", "playerId": "x"}] * 2},
        {**init_body(), "races": [init_body()["races"][0]] * 2},
        {**init_body(), "settings": {"turnLimit": 0}},
        {**init_body(), "settings": {"colour": "red"}},
        {**init_body(), "settings": {"width": 10, "height": 10, "planetsPerRace": 200}},
        [],
    ],
)
async def test_a_bad_init_is_refused_and_leaves_no_game(engine: ContractClient, body: Any) -> None:
    assert_error_body(await engine.post(INIT, json=body), 400, "invalid_init")
    assert (await engine.post(INIT, json=init_body())).status_code == 201


async def test_orders_answer_per_order_and_only_accepted_ones_are_kept(
    engine: ContractClient,
) -> None:
    await started(engine)
    report = (await engine.get("/api/v1/report", params={"race": "Aliens"})).json()
    prime = next(p for p in report["planets"] if p["kind"] == "local" and p["size"] == 1000)
    body = {
        "raceName": "Aliens",
        "turn": 0,
        "orders": [
            {"op": "design", "name": "Hauler", "drive": 2, "cargo": 2},
            {"op": "produce", "planet": prime["id"], "what": "ship", "shipType": "Hauler"},
            {"op": "produce", "planet": prime["id"], "what": "unobtainium"},
        ],
    }
    answer = await engine.put("/api/v1/order", json=body)
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted", "rejected"]
    assert "what must be one of" in results[2]["reason"]
    await engine.put("/api/v1/admin/turn")
    after = (await engine.get("/api/v1/report", params={"race": "Aliens"})).json()
    assert [t["name"] for t in after["shipTypes"]] == ["Hauler"]
    assert after["groups"] and after["groups"][0]["shipType"] == "Hauler"
    assert after["mistakes"] == []

    wrong_turn = await engine.put("/api/v1/order", json={**body, "turn": 0})
    assert_error_body(wrong_turn, 409, "wrong_turn")
    unknown = await engine.put("/api/v1/order", json={**body, "turn": 1, "raceName": "Zorgs"})
    assert_error_body(unknown, 404, "unknown_race")
    assert_error_body(await engine.put("/api/v1/order", json={"orders": "x"}), 400, "malformed")
    assert_error_body(
        await engine.put(
            "/api/v1/order", content=b"{", headers={"content-type": "application/json"}
        ),
        400,
        "malformed",
    )


async def test_commands_are_all_or_nothing(engine: ContractClient) -> None:
    await started(engine)
    bad = {
        "raceName": "Aliens",
        "commands": [
            {"op": "declare", "race": "Beings", "stance": "peace"},
            {"op": "renamePlanet", "planet": 9999, "name": "Mine"},
        ],
    }
    refused = await engine.put("/api/v1/command", json=bad)
    assert_error_body_extra(refused, 400, "commands_rejected")
    assert [r["status"] for r in refused.json()["results"]] == ["accepted", "rejected"]
    report = (await engine.get("/api/v1/report", params={"race": "Aliens"})).json()
    assert report["races"][0]["yourStance"] == "war"  # nothing applied

    good = {
        "raceName": "Aliens",
        "commands": [
            {"op": "declare", "race": "Beings", "stance": "peace"},
            {"op": "message", "to": "Beings", "text": "We come in peace."},
        ],
    }
    assert (await engine.put("/api/v1/command", json=good)).status_code == 200
    await engine.put("/api/v1/admin/turn")
    theirs = (await engine.get("/api/v1/report", params={"race": "Beings"})).json()
    assert theirs["messages"] == [{"from": "Aliens", "turn": 0, "text": "We come in peace."}]
    assert theirs["races"][0] | {"population": 0} == {
        "name": "Aliens",
        "status": "active",
        "planets": 3,
        "population": 0,
        "yourStance": "war",
        "theirStance": "peace",
    }


async def test_reports_show_four_kinds_of_planets_by_visibility(engine: ContractClient) -> None:
    await started(engine)
    report = (await engine.get("/api/v1/report", params={"race": "Aliens"})).json()
    kinds = {p["kind"] for p in report["planets"]}
    assert kinds == {"local", "unidentified"}  # nothing seen beyond its own planets yet
    hidden = next(p for p in report["planets"] if p["kind"] == "unidentified")
    assert set(hidden) == {"id", "kind", "x", "y"}
    prime = next(p for p in report["planets"] if p["kind"] == "local" and p["size"] == 1000)
    # Build scouts, then send one to every planet: the report fills in.
    orders = [
        {"op": "design", "name": "Scout", "drive": 3},
        {"op": "produce", "planet": prime["id"], "what": "ship", "shipType": "Scout"},
    ]
    await engine.put("/api/v1/order", json={"raceName": "Aliens", "turn": 0, "orders": orders})
    await engine.put("/api/v1/admin/turn")
    report = (await engine.get("/api/v1/report", params={"race": "Aliens"})).json()
    (scouts,) = report["groups"]
    others = [p for p in report["planets"] if p["kind"] != "local"]
    sends = [
        {"op": "send", "group": scouts["id"], "to": p["id"], "count": 1}
        for p in others[: scouts["count"] - 1]
    ]
    verdicts = await engine.put(
        "/api/v1/order", json={"raceName": "Aliens", "turn": 1, "orders": sends}
    )
    assert all(r["status"] == "accepted" for r in verdicts.json()["results"])
    for _ in range(12):
        await engine.put("/api/v1/admin/turn")
    report = (await engine.get("/api/v1/report", params={"race": "Aliens"})).json()
    kinds = {p["kind"] for p in report["planets"]}
    assert {"local", "other", "uninhabited"} <= kinds
    seen = next(p for p in report["planets"] if p["kind"] == "other")
    assert {"owner", "size", "population", "industry"} <= set(seen)
    assert "materials" not in seen  # not theirs to know
    first = await engine.get("/api/v1/report", params={"race": "Aliens", "turn": 0})
    assert first.json()["turn"] == 0  # old reports stay readable
    missing = await engine.get("/api/v1/report", params={"race": "Aliens", "turn": 999})
    assert_error_body(missing, 404, "unknown_turn")
    assert_error_body(
        await engine.get("/api/v1/report", params={"race": "Zorgs"}), 404, "unknown_race"
    )


async def test_a_banished_race_leaves_its_planets_neutral(engine: ContractClient) -> None:
    await started(engine, races=3)
    status = (await engine.post("/api/v1/admin/race/banish", json={"raceName": "Beings"})).json()
    beings = next(r for r in status["races"] if r["name"] == "Beings")
    assert beings["status"] == "banished" and beings["planets"] == 0
    missing = await engine.post("/api/v1/admin/race/banish", json={"raceName": "Zorgs"})
    assert_error_body(missing, 404, "unknown_race")
    late = await engine.put("/api/v1/order", json={"raceName": "Beings", "turn": 0, "orders": []})
    assert_error_body(late, 409, "race_not_active")


async def test_a_finished_game_runs_no_more_turns(engine: ContractClient) -> None:
    await started(engine, turnLimit=2)
    await engine.put("/api/v1/admin/turn")
    final = (await engine.put("/api/v1/admin/turn")).json()
    assert final["phase"] == "finished" and final["winner"] in ("Aliens", "Beings")
    assert_error_body(await engine.put("/api/v1/admin/turn"), 409, "finished")


def test_every_engine_operation_is_exercised_here() -> None:
    exercised = {
        "engineHealthz",
        "engineInit",
        "engineStatus",
        "engineTurn",
        "engineBanish",
        "engineCommand",
        "engineOrder",
        "engineReport",
    }
    assert set(engine_spec().operations()) == exercised
