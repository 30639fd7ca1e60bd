"""The engine's fence (ENGINE.md, "Fencing"): a former owner's writes are refused, for good."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.engine.test_crash import BODY, engine_process
from tests.support.contract import ContractClient, assert_error_body

INIT, TURN, ORDER, STATUS = (
    "/api/v1/admin/init",
    "/api/v1/admin/turn",
    "/api/v1/order",
    "/api/v1/admin/status",
)
HEADER = "Galaxy-Owner-Epoch"


def owner(epoch: int) -> dict[str, str]:
    return {HEADER: str(epoch)}


async def turn_of(engine: ContractClient) -> int:
    response = await engine.get(STATUS)  # reads carry no epoch, and are never refused
    assert response.status_code == 200, response.text
    number: int = response.json()["turn"]
    return number


async def test_an_older_epoch_is_refused_and_a_newer_one_becomes_the_mark(
    engine: ContractClient,
) -> None:
    assert (await engine.post(INIT, json=BODY, headers=owner(2))).status_code == 201
    assert_error_body(await engine.put(TURN, headers=owner(1)), 409, "stale_owner")
    assert_error_body(await engine.put(TURN), 409, "stale_owner")  # none, once one was seen
    assert await turn_of(engine) == 0  # refused calls ran nothing
    assert (await engine.put(TURN, headers=owner(2))).status_code == 200  # equal: the owner
    assert (await engine.put(TURN, headers=owner(5))).status_code == 200  # a new owner
    assert_error_body(await engine.put(TURN, headers=owner(2)), 409, "stale_owner")
    order = {"raceName": "Aliens", "turn": 2, "orders": []}
    assert_error_body(await engine.put(ORDER, json=order, headers=owner(4)), 409, "stale_owner")
    assert (await engine.put(ORDER, json=order, headers=owner(5))).status_code == 200
    banish = {"raceName": "Crabs"}
    refused = await engine.post("/api/v1/admin/race/banish", json=banish, headers=owner(3))
    assert_error_body(refused, 409, "stale_owner")
    command = {"raceName": "Aliens", "commands": []}
    assert_error_body(await engine.put("/api/v1/command", json=command), 409, "stale_owner")
    assert await turn_of(engine) == 2
    report = await engine.get("/api/v1/report", params={"race": "Crabs"})
    assert report.status_code == 200  # not banished by the stale call


async def test_without_any_epoch_an_engine_behaves_as_before(engine: ContractClient) -> None:
    assert (await engine.post(INIT, json=BODY)).status_code == 201
    assert (await engine.put(TURN)).status_code == 200
    assert (await engine.put(TURN, headers=owner(1))).status_code == 200  # the first owner
    assert_error_body(await engine.put(TURN), 409, "stale_owner")


async def test_a_malformed_epoch_is_a_bad_request(engine: ContractClient) -> None:
    assert (await engine.post(INIT, json=BODY, headers=owner(3))).status_code == 201
    for bad in ("0", "-1", "x", "1.5", "+3", "9" * 19):
        assert_error_body(await engine.put(TURN, headers={HEADER: bad}), 400, "malformed")
    assert await turn_of(engine) == 0


async def test_the_mark_survives_a_killed_engine(tmp_path: Path) -> None:
    state = tmp_path / "game"
    async with engine_process(state) as (_, url), httpx.AsyncClient(base_url=url) as client:
        assert (await client.post(INIT, json=BODY, headers=owner(1))).status_code == 201
        # the mark moves on a call that changes nothing else (no orders filed)
        moved = await client.put(
            ORDER, json={"raceName": "Aliens", "turn": 0, "orders": []}, headers=owner(7)
        )
        assert moved.status_code == 200, moved.text
    async with engine_process(state) as (process, url):
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.put(TURN, headers=owner(6))).json()["error"]["code"] == (
                "stale_owner"
            )
            assert (await client.put(TURN, headers=owner(7))).status_code == 200
            assert (await client.put(TURN, headers=owner(8))).status_code == 200
        process.send_signal(signal.SIGKILL)
        await process.wait()
    async with engine_process(state) as (_, url), httpx.AsyncClient(base_url=url) as client:
        refused = await client.put(TURN, headers=owner(7))
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "stale_owner"
        status = (await client.get(STATUS)).json()
        assert status["turn"] == 2
        assert (await client.put(TURN, headers=owner(8))).json()["turn"] == 3
