"""Every operation of openapi.yaml is exercised against a live service and validated.

Each area adds its operations to `EXERCISES`; an operation in the contract
without an exercise fails `test_every_operation_has_an_exercise`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.conftest import admin_auth
from tests.support.contract import ContractClient, assert_error_body, operations

Exercise = Callable[[ContractClient], Awaitable[None]]


async def healthz(http: ContractClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert_error_body(await http.post("/healthz"), 405, "method_not_allowed")


async def readyz(http: ContractClient) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "postgres": True,
        "migrations": True,
        "caches": True,
        "grpc": True,
    }


async def admin_get_actors(http: ContractClient) -> None:
    response = await http.get("/api/v1/admin/actors", auth=admin_auth())
    assert response.status_code == 200
    unauthorized = await http.get("/api/v1/admin/actors")
    assert_error_body(unauthorized, 401, "unauthorized")


EXERCISES: dict[str, Exercise] = {
    "healthz": healthz,
    "readyz": readyz,
    "adminGetActors": admin_get_actors,
}


def test_every_operation_has_an_exercise() -> None:
    assert set(operations()) == set(EXERCISES)


@pytest.mark.parametrize("operation_id", sorted(EXERCISES))
async def test_operation_conforms_to_the_contract(operation_id: str, http: ContractClient) -> None:
    await EXERCISES[operation_id](http)
    assert operation_id in http.exercised
