"""An engine served in the test's own trio run, and a contract-checking client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from galaxy.engine.engine import Engine
from galaxy.engine.server import create_app
from tests.support.contract import ContractClient, engine_spec


async def start_engine(nursery: trio.Nursery, state_dir: Path) -> str:
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    app = create_app(Engine(state_dir))
    binds = await nursery.start(partial(serve, app, config, shutdown_trigger=trio.sleep_forever))
    return str(binds[0])


@pytest.fixture
async def engine_url(tmp_path: Path, nursery: trio.Nursery) -> str:
    return await start_engine(nursery, tmp_path / "game")


@pytest.fixture
async def engine(engine_url: str) -> AsyncIterator[ContractClient]:
    async with httpx.AsyncClient(base_url=engine_url, timeout=30) as client:
        yield ContractClient(client, spec=engine_spec())
