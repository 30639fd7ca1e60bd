"""An engine served in the test's own trio run, and a contract-checking client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from tests.support.contract import ContractClient, engine_spec
from tests.support.engine import start_engine


@pytest.fixture
async def engine_url(tmp_path: Path, nursery: trio.Nursery) -> str:
    return await start_engine(nursery, tmp_path / "game")


@pytest.fixture
async def engine(engine_url: str) -> AsyncIterator[ContractClient]:
    async with httpx.AsyncClient(base_url=engine_url, timeout=30) as client:
        yield ContractClient(client, spec=engine_spec())
