"""Administrator accounts: management, immediate refusal, and the failed sign-in budget."""

from __future__ import annotations

import httpx
import pytest
import trio
import trio.testing

from galaxy.services.rate_limit import Budget
from tests.support.contract import ContractClient, assert_error_body
from tests.support.service import ADMIN, Running, admin_auth

ADMINS = "/api/v1/admin/admin-accounts"
PASSWORD = "a long enough password"


async def create(
    http: ContractClient, username: str, password: str = PASSWORD, role: str = "operator"
) -> httpx.Response:
    return await http.post(
        ADMINS, json={"username": username, "password": password, "role": role}, auth=admin_auth()
    )


async def test_admins_are_created_listed_and_read(http: ContractClient) -> None:
    created = await create(http, "ops.anna")
    assert created.status_code == 201
    assert created.json()["status"] == "enabled"
    assert "password" not in created.text and "hash" not in created.text
    listed = await http.get(ADMINS, auth=admin_auth())
    assert [a["username"] for a in listed.json()["items"]] == ["ops.anna", "root"]
    one = await http.get(f"{ADMINS}/ops.anna", auth=admin_auth())
    assert one.json()["username"] == "ops.anna"
    assert_error_body(await create(http, "ops.anna"), 409, "already_exists")
    assert_error_body(await http.get(f"{ADMINS}/nobody", auth=admin_auth()), 404, "admin_not_found")
    assert_error_body(await create(http, "with space"), 400, "invalid_username")
    assert_error_body(await create(http, "short", "too short"), 400, "invalid_password")
    assert_error_body(await create(http, "long", "é" * 40), 400, "invalid_password")  # 80 bytes
    assert listed.json()["items"][0]["last_used_at"] is None
    # The new admin can work at once, and the listing says when they last did.
    actors = await http.get("/api/v1/admin/actors", auth=("ops.anna", PASSWORD))
    assert actors.status_code == 200
    listed = await http.get(ADMINS, auth=admin_auth())
    used = {a["username"]: a["last_used_at"] for a in listed.json()["items"]}
    assert used["ops.anna"] is not None and used["root"] is not None


async def test_a_disabled_admin_is_refused_at_once(http: ContractClient) -> None:
    await create(http, "ops.ben")
    ben = ("ops.ben", PASSWORD)
    assert (await http.get(ADMINS, auth=ben)).status_code == 200  # verified and cached
    disabled = await http.post(f"{ADMINS}/ops.ben/disable", auth=admin_auth())
    assert disabled.json()["status"] == "disabled"
    assert_error_body(await http.get(ADMINS, auth=ben), 401, "unauthorized")
    enabled = await http.post(f"{ADMINS}/ops.ben/enable", auth=admin_auth())
    assert enabled.json()["status"] == "enabled" and enabled.json()["disabled_at"] is None
    assert (await http.get(ADMINS, auth=ben)).status_code == 200


async def test_the_last_enabled_admin_cannot_be_disabled(http: ContractClient) -> None:
    refused = await http.post(f"{ADMINS}/root/disable", auth=admin_auth())
    assert_error_body(refused, 409, "last_admin")
    await create(http, "ops.cleo")
    assert (
        await http.post(f"{ADMINS}/root/disable", auth=("ops.cleo", PASSWORD))
    ).status_code == 200
    last = await http.post(f"{ADMINS}/ops.cleo/disable", auth=("ops.cleo", PASSWORD))
    assert_error_body(last, 409, "last_admin")
    missing = await http.post(f"{ADMINS}/nobody/disable", auth=("ops.cleo", PASSWORD))
    assert_error_body(missing, 404, "admin_not_found")


async def test_a_reset_password_replaces_the_old_one_at_once(http: ContractClient) -> None:
    await create(http, "ops.dan")
    old = ("ops.dan", PASSWORD)
    assert (await http.get(ADMINS, auth=old)).status_code == 200  # cached as verified
    new_password = "another long password"
    reset = await http.post(
        f"{ADMINS}/ops.dan/reset-password", json={"password": new_password}, auth=admin_auth()
    )
    assert reset.status_code == 200
    assert_error_body(await http.get(ADMINS, auth=old), 401, "unauthorized")
    assert (await http.get(ADMINS, auth=("ops.dan", new_password))).status_code == 200
    weak = await http.post(
        f"{ADMINS}/ops.dan/reset-password", json={"password": "short"}, auth=admin_auth()
    )
    assert_error_body(weak, 400, "invalid_password")


async def test_failed_sign_ins_are_budgeted_per_source_address(running: Running) -> None:
    wrong = (ADMIN[0], "not the password")

    async def attempt(client: httpx.AsyncClient, auth: tuple[str, str]) -> httpx.Response:
        return await client.get(ADMINS, auth=auth)

    attacker = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with (
        httpx.AsyncClient(base_url=running.http, transport=attacker) as bad,
        httpx.AsyncClient(base_url=running.http) as good,
    ):
        for _ in range(10):
            assert (await attempt(bad, wrong)).status_code == 401
        blocked = await attempt(bad, ADMIN)  # even the right password, from there
        assert_error_body(blocked, 429, "too_many_failed_sign_ins")
        assert 1 <= int(blocked.headers["Retry-After"]) <= 300
        assert (await attempt(good, ADMIN)).status_code == 200  # another address is unaffected


def test_the_budget_renews_as_failures_age() -> None:
    clock = trio.testing.MockClock()

    async def scenario() -> None:
        budget = Budget(limit=3, window=60)
        for _ in range(3):
            assert budget.retry_after("10.0.0.1") is None
            assert budget.take("10.0.0.1") is None
        assert budget.retry_after("10.0.0.1") == pytest.approx(60)
        assert budget.take("10.0.0.1") == pytest.approx(60)  # refused, nothing charged
        assert budget.retry_after("10.0.0.2") is None
        clock.jump(30)
        assert budget.retry_after("10.0.0.1") == pytest.approx(30)
        clock.jump(30.5)
        assert budget.retry_after("10.0.0.1") is None

    trio.run(scenario, clock=clock)
