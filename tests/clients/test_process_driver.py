"""The `process` driver's close: an instance with others live on its database leaves every
engine running (another instance's games among them); one alone stops them all, adopted
ones too (app.py decides which from the instances registry)."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import trio

from galaxy.clients.containers import EngineSpec, ProcessDriver


async def running(driver: ProcessDriver) -> set[str]:
    return {handle.container_id for handle in await driver.list() if handle.running}


async def serving(endpoint: str) -> None:
    async with httpx.AsyncClient(base_url=endpoint, timeout=5) as client:
        with trio.fail_after(30):
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                await trio.sleep(0.05)


async def test_only_an_instance_alone_on_its_database_stops_the_engines_at_close(
    tmp_path: Path,
) -> None:
    root = tmp_path / "games"
    alone = ProcessDriver(root, stop_grace=5)  # no other instance live
    started = await alone.start(EngineSpec(uuid.uuid4(), "galaxy-engine:test", root / "one"))
    try:
        await serving(started.endpoint)
        # An instance with others live that adopted it (as a game's owner does) closes:
        # the engine is still there for the game's next owner.
        shared = ProcessDriver(root, stop_grace=5, stop_at_close=False)
        assert await running(shared) == {started.container_id}
        await shared.aclose()
        assert await running(alone) == {started.container_id}
        await serving(started.endpoint)  # and serving
    finally:
        await alone.aclose()
    assert await running(alone) == set()
    assert await running(ProcessDriver(root, stop_grace=5)) == set()
