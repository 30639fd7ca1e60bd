"""Admin sign-in budgets that hold under concurrency, through the HTTP edge.

Failed sign-ins are charged before bcrypt runs (a slot taken, given back on
success), per (user name, TCP peer) and per peer across names, and bcrypt
work is bounded (excess answered 429 at once). Verifications are counted with
a spy around the real bcrypt, and by the 401 answers (each is one bcrypt).
"""

from __future__ import annotations

import base64

import httpx
import pytest
import trio

from galaxy.services import admin_auth
from tests.support.contract import assert_error_body
from tests.support.service import ADMIN, Running
from tests.support.service import admin_auth as root_auth

ADMINS = "/api/v1/admin/admin-accounts"
OTHER = ("ops.other", "another long password")
REFUSALS = {"too_many_failed_sign_ins", "sign_ins_busy"}


def from_peer(running: Running, address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=running.http, transport=transport, timeout=60)


async def create_admin(running: Running, username: str, password: str) -> None:
    async with httpx.AsyncClient(base_url=running.http, timeout=60) as client:
        created = await client.post(
            ADMINS, json={"username": username, "password": password}, auth=root_auth()
        )
        assert created.status_code == 201, created.text


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] in REFUSALS, response.text
    assert_error_body(response, 429)
    assert 1 <= int(response.headers["Retry-After"]) <= admin_auth.FAILED_SIGN_IN_WINDOW


async def test_a_flood_of_wrong_passwords_verifies_at_most_the_budget(
    running: Running, checks: list[bytes]
) -> None:
    await create_admin(running, *OTHER)  # fresh: not in the verified cache
    checks.clear()
    answers: list[httpx.Response] = []
    other: list[httpx.Response] = []

    async with from_peer(running, "127.0.0.2") as attacker, from_peer(running, "127.0.0.1") as ops:

        async def wrong(number: int) -> None:
            answers.append(await attacker.get(ADMINS, auth=(ADMIN[0], f"wrong password {number}")))

        async def operator() -> None:
            other.append(await ops.get(ADMINS, auth=OTHER))

        async with trio.open_nursery() as nursery:
            for number in range(60):
                nursery.start_soon(wrong, number)
            nursery.start_soon(operator)

    unauthorized = [a for a in answers if a.status_code == 401]
    assert 1 <= len(unauthorized) <= admin_auth.FAILED_SIGN_INS
    for answer in answers:
        if answer.status_code != 401:
            assert_refused(answer)
    wrong_checks = [c for c in checks if c.startswith(b"wrong password")]
    assert len(wrong_checks) == len(unauthorized)  # each 401 is one bcrypt, and nothing more
    # Another operator, from another address, was answered and signed in.
    assert [response.status_code for response in other] == [200]


async def test_the_failure_budget_holds_across_waves_of_concurrent_attempts(
    running: Running, checks: list[bytes]
) -> None:
    answers: list[httpx.Response] = []
    async with from_peer(running, "127.0.0.2") as attacker:

        async def wrong(number: int) -> None:
            answers.append(await attacker.get(ADMINS, auth=(ADMIN[0], f"wrong password {number}")))

        for wave in range(8):
            async with trio.open_nursery() as nursery:
                for number in range(7):
                    nursery.start_soon(wrong, wave * 10 + number)
        # The budget is spent: even the right password is refused from there.
        last = await attacker.get(ADMINS, auth=ADMIN)
    assert_error_body(last, 429, "too_many_failed_sign_ins")
    assert sum(1 for answer in answers if answer.status_code == 401) == admin_auth.FAILED_SIGN_INS
    assert len(checks) == admin_auth.FAILED_SIGN_INS
    for answer in answers:
        if answer.status_code != 401:
            assert_refused(answer)


async def test_one_mistyping_script_does_not_lock_out_other_operators_behind_its_address(
    running: Running,
) -> None:
    await create_admin(running, "ops.script", "the script's long password")
    async with from_peer(running, "127.0.0.2") as proxy:
        for _ in range(admin_auth.FAILED_SIGN_INS):
            typo = await proxy.get(ADMINS, auth=("ops.script", "the scripts long password"))
            assert_error_body(typo, 401, "unauthorized")
        blocked = await proxy.get(ADMINS, auth=("ops.script", "the script's long password"))
        assert_error_body(blocked, 429, "too_many_failed_sign_ins")
        # Another operator behind the same address signs in.
        assert (await proxy.get(ADMINS, auth=ADMIN)).status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(
            b"Basic " + base64.b64encode(f"{ADMIN[0]}:{'x' * 73}".encode()), id="password-73-bytes"
        ),
        pytest.param(
            b"Basic " + base64.b64encode(f"{ADMIN[0]}:{'é' * 40}".encode()), id="password-80-bytes"
        ),
        pytest.param("Basic é".encode(), id="non-ascii-header-utf8"),
        pytest.param(b"Basic \xe9\xff", id="non-ascii-header-latin1"),
        pytest.param(b"Basic " + base64.b64encode(b"root:\xff\xfe"), id="password-not-utf8"),
        pytest.param(b"Basic " + base64.b64encode(b"root"), id="no-colon"),
    ],
)
async def test_malformed_credentials_get_401_not_500(
    running: Running, authorization: bytes
) -> None:
    async with httpx.AsyncClient(base_url=running.http, timeout=60) as client:
        response = await client.get(ADMINS, headers={b"Authorization": authorization})
    assert_error_body(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Basic")
