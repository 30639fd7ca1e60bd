"""A game's end on the process driver, across a backend restart: played to its turn
limit, or force-stopped, it leaves no engine running and its record says so."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import httpx
import trio

from galaxy.config import load_config
from tests.e2e.runtime.test_lifecycle import RUNTIME, started_game, wait_status
from tests.support.contract import ContractClient, assert_error_body
from tests.support.players import sql
from tests.support.service import Running, admin_auth, service_environ, start_service


def record_status(running: Running, gid: str) -> str:
    ((status,),) = sql(
        running, "SELECT status FROM runtime_records WHERE game_id = %s", uuid.UUID(gid)
    )
    return str(status)


def tiny_games(running: Running) -> None:
    """New games end at turn 2 (the engine's `turnLimit`)."""
    services = running.service.services
    assert services is not None
    deps = services.runtime.deps
    deps.settings = dataclasses.replace(deps.settings, engine_settings={"turnLimit": 2})


async def test_a_finished_and_a_stopped_game_leave_no_engine_across_a_restart(
    db_dsn: str, tmp_path: Path
) -> None:
    environ = service_environ(db_dsn, tmp_path, **RUNTIME)
    async with trio.open_nursery() as nursery:
        first = await start_service(nursery, load_config(environ))
        tiny_games(first)
        async with httpx.AsyncClient(base_url=first.http, timeout=30) as client:
            http = ContractClient(client)
            owner, _, ended = await started_game(first, http)
            admin = f"/api/v1/admin/runtimes/{ended}"
            assert (await http.post(f"{admin}/force-next-turn", auth=admin_auth())).json()[
                "turn"
            ] == 1
            last = await http.post(f"{admin}/force-next-turn", auth=admin_auth())
            assert last.json()["turn"] == 2 and last.json()["status"] == "finished"
            await wait_status(owner, ended, "finished")
            assert_error_body(
                await http.post(f"{admin}/force-next-turn", auth=admin_auth()), 409, "game_finished"
            )
            archived = sql(
                first,
                "SELECT turn, count(*) FROM turn_reports WHERE game_id = %s GROUP BY turn"
                " ORDER BY turn",
                uuid.UUID(ended),
            )
            assert archived == [(0, 2), (1, 2), (2, 2)]  # every race's report, every turn

            _, _, stopped = await started_game(first, http, races=("Dentrassi", "Golgafrinchans"))
            stop = await http.post(f"/api/v1/admin/games/{stopped}/force-stop", auth=admin_auth())
            assert stop.status_code == 200, stop.text
            engines = first.service.driver
            assert engines is not None

            async def all_stopped() -> bool:
                return [h for h in await engines.list() if h.running] == []

            with trio.fail_after(30):
                while not await all_stopped():  # noqa: ASYNC110 - the told stop runs on
                    await trio.sleep(0.05)
        first.service.stop()
        await first.service.stopped.wait()

        second = await start_service(nursery, load_config(environ))
        assert record_status(second, ended) == "finished"
        assert record_status(second, stopped) == "stopped"
        driver = second.service.driver
        assert driver is not None
        assert await driver.list() == []  # recovery started neither engine
        second.service.stop()
        await second.service.stopped.wait()
        nursery.cancel_scope.cancel()
