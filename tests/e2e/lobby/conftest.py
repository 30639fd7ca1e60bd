"""Six players for the lobby's tests."""

from __future__ import annotations

import pytest

from tests.support.contract import ContractClient
from tests.support.lobby import User, make_user
from tests.support.service import Running


@pytest.fixture
async def users(running: Running, http: ContractClient) -> list[User]:
    return [await make_user(running, http, f"u{n}@example.org") for n in range(6)]
