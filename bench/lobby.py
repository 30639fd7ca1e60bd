"""Games set up through the lobby as players would, for the benchmarks that need running games."""

from __future__ import annotations

from typing import Any

import httpx
import trio

LOBBY = "/api/v1/user/lobby/games"


async def running_game(
    http: httpx.AsyncClient,
    players: list[str],
    races: list[str],
    *,
    name: str,
    schedule: str,
    timeout: float = 120,  # noqa: ASYNC109 - a bound on the whole set-up, not an I/O timeout
) -> str:
    """A running game of `players` (the first owns it), each under its race in `races`."""

    async def post(user: str, path: str, body: Any = None) -> Any:
        response = await http.post(path, json=body, headers={"X-User-ID": user})
        if response.status_code >= 300:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
        return response.json()

    owner = players[0]
    settings = {
        "name": name,
        "min_players": len(players),
        "max_players": len(players),
        "auto_approve": True,
        "turn_schedule": schedule,
    }
    game_id: str = (await post(owner, LOBBY, settings))["game_id"]
    await post(owner, f"{LOBBY}/{game_id}/open-enrollment")
    for player, race in zip(players, races, strict=True):
        await post(player, f"{LOBBY}/{game_id}/applications", {"race_name": race})
    await post(owner, f"{LOBBY}/{game_id}/ready-to-start")
    await post(owner, f"{LOBBY}/{game_id}/start")
    with trio.fail_after(timeout):
        while True:
            found = await http.get(f"{LOBBY}/{game_id}", headers={"X-User-ID": owner})
            status = found.json()["game"]["status"]
            if status == "running":
                return game_id
            if status not in ("starting", "ready_to_start"):
                raise RuntimeError(f"game {game_id} is {status}: {found.text}")
            await trio.sleep(0.1)
