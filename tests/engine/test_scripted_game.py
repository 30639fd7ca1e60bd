"""Four scripted races play fifty turns: the same seed ends the same way every time."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.support import bot
from tests.support.contract import ContractClient, engine_spec
from tests.support.engine import GAME_ID, PLAYERS, start_engine

TURNS = 50


async def play(
    nursery: trio.Nursery, state_dir: Path, seed: int
) -> tuple[dict[str, Any], dict[str, int], str]:
    url = await start_engine(nursery, state_dir)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        engine = ContractClient(client, spec=engine_spec())
        body = {
            "gameId": GAME_ID,
            "races": [{"raceName": n, "playerId": p} for n, p in PLAYERS.items()],
            "settings": {"seed": seed, "planetsPerRace": 8, "turnLimit": TURNS},
        }
        assert (await engine.post("/api/v1/admin/init", json=body)).status_code == 201
        seen = {"battles": 0, "bombings": 0, "claims": 0, "rejected": 0}
        status: dict[str, Any] = {}
        for turn in range(TURNS):
            for race in PLAYERS:
                report = (await engine.get("/api/v1/report", params={"race": race})).json()
                if report["race"]["status"] != "active":
                    continue
                seen["battles"] += len(report["battles"])
                seen["bombings"] += len(report["bombings"])
                given = bot.orders(report)
                answer = await engine.put(
                    "/api/v1/order", json={"raceName": race, "turn": turn, "orders": given}
                )
                assert answer.status_code == 200, answer.text
                seen["rejected"] += sum(r["status"] == "rejected" for r in answer.json()["results"])
            status = (await engine.put("/api/v1/admin/turn")).json()
            if status["phase"] == "finished":
                break
        state = (state_dir / "state.json").read_bytes()
    seen["claims"] = sum(r["planets"] for r in status["races"])
    return status, seen, hashlib.sha256(state).hexdigest()


async def test_a_scripted_game_ends_the_same_way_for_the_same_seed(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        first = await play(nursery, tmp_path / "first", seed=42)
        second = await play(nursery, tmp_path / "second", seed=42)
        nursery.cancel_scope.cancel()
    status, seen, digest = first
    assert status["phase"] == "finished" and status["winner"] in PLAYERS
    assert status == second[0] and digest == second[2]  # the same game, to the last byte
    # The bots really played: they expanded, fought and bombed.
    assert seen["claims"] > 3 * len(PLAYERS)
    assert seen["battles"] > 0 and seen["bombings"] > 0
    assert any(r["planets"] > r["initialPlanets"] for r in status["races"])
    print(json.dumps({"winner": status["winner"], **seen}))
