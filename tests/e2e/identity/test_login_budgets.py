"""Login-code budgets that hold: spent challenges, wrong codes per address, and per client.

The client address is the one the gateway forwards (the leftmost
X-Forwarded-For), else the TCP peer. Per-address rules live in PostgreSQL and
hold across processes (the racing confirms below run on separate
connections); per-client budgets are per process.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import trio
from nacl.signing import SigningKey

from tests.support.contract import ContractClient, assert_error_body
from tests.support.players import CONFIRM, SEND, asql, mailed_code, public_key, sql
from tests.support.service import Running

pytestmark = pytest.mark.usefixtures("running")

ATTACKER = "198.51.100.7"
VICTIM = "203.0.113.5"


def client(address: str) -> dict[str, str]:
    """What the gateway forwards: the client's address first, then its own hops."""
    return {"X-Forwarded-For": f"{address}, 10.0.0.1"}


async def send(http: ContractClient, email: str, address: str) -> httpx.Response:
    return await http.post(SEND, json={"email": email}, headers=client(address))


async def send_ok(http: ContractClient, email: str, address: str) -> str:
    response = await send(http, email, address)
    assert response.status_code == 200, response.text
    challenge_id: str = response.json()["challenge_id"]
    return challenge_id


async def confirm(http: ContractClient, challenge_id: str, code: str, address: str) -> Any:
    body = {
        "challenge_id": challenge_id,
        "code": code,
        "client_public_key": public_key(SigningKey.generate()),
        "time_zone": "UTC",
    }
    return await http.post(CONFIRM, json=body, headers=client(address))


def not_(code: str) -> str:
    """A code that is certainly wrong."""
    return "000000" if code != "000000" else "111111"


def assert_too_many(response: httpx.Response, code: str, most: float) -> None:
    assert_error_body(response, 429, code)
    assert 1 <= int(response.headers["Retry-After"]) <= most


async def test_burnt_challenges_no_longer_lock_the_victim_out(
    http: ContractClient, running: Running
) -> None:
    """The issue's attack: 3 challenges burnt in 18 requests locked the victim out."""
    email = "victim@example.org"
    throttle = running.config.auth.throttle_max
    ceiling = running.config.auth.challenge_max_attempts
    burnt: list[str] = []
    for number in range(1, throttle + 1):
        challenge_id = await send_ok(http, email, ATTACKER)
        wrong = not_(await mailed_code(running, email, number))
        for _ in range(ceiling):
            answer = await confirm(http, challenge_id, wrong, ATTACKER)
            assert_error_body(answer, 400, "invalid_code")
        burnt.append(challenge_id)
    # A burnt challenge is dead, and says so with a Retry-After as the contract promises.
    dead = await confirm(http, burnt[-1], await mailed_code(running, email, throttle), VICTIM)
    assert_too_many(dead, "too_many_attempts", 1)
    # The victim asks for a code: a fresh challenge and a fresh mail, which works.
    fresh = await send_ok(http, email, VICTIM)
    assert fresh not in burnt
    code = await mailed_code(running, email, throttle + 1)
    assert (await confirm(http, fresh, code, VICTIM)).status_code == 200


async def test_a_spent_challenge_is_neither_counted_nor_handed_out_again(
    http: ContractClient, running: Running
) -> None:
    email = "spent@example.org"
    throttle = running.config.auth.throttle_max
    issued = [await send_ok(http, email, ATTACKER) for _ in range(throttle)]
    wrong = not_(await mailed_code(running, email, throttle))
    for _ in range(running.config.auth.challenge_max_attempts):
        await confirm(http, issued[-1], wrong, ATTACKER)
    again = await send_ok(http, email, VICTIM)
    assert again not in issued  # a new challenge, since only throttle - 1 are usable
    await mailed_code(running, email, throttle + 1)
    # Past the throttle again, the newest usable challenge is answered, with no mail.
    assert await send_ok(http, email, VICTIM) == again
    assert sql(running, "SELECT count(*) FROM auth_challenges WHERE email = %s", email) == [
        (throttle + 1,)
    ]


@pytest.mark.parametrize("running", [{"BACKEND_AUTH_WRONG_CODES_MAX": "7"}], indirect=True)
async def test_wrong_codes_are_capped_per_address_across_challenges(
    http: ContractClient, running: Running
) -> None:
    email = "capped@example.org"
    first = await send_ok(http, email, "198.51.100.1")
    wrong = not_(await mailed_code(running, email, 1))
    for number in range(5):  # each guess from its own client: the per-address rule alone
        answer = await confirm(http, first, wrong, f"198.51.100.{10 + number}")
        assert_error_body(answer, 400, "invalid_code")
    second = await send_ok(http, email, "198.51.100.2")
    code = await mailed_code(running, email, 2)
    for number in range(2):
        answer = await confirm(http, second, not_(code), f"198.51.100.{20 + number}")
        assert_error_body(answer, 400, "invalid_code")
    capped = await confirm(http, second, not_(code), "198.51.100.30")
    assert_too_many(capped, "too_many_wrong_codes", 3600)
    # Refused before the code is looked at: even the right one, and no attempt is spent.
    assert_too_many(await confirm(http, second, code, VICTIM), "too_many_wrong_codes", 3600)
    assert sql(running, "SELECT attempts FROM auth_challenges WHERE challenge_id = %s", second) == [
        (2,)
    ]
    # A fresh challenge is no way around it.
    third = await send_ok(http, email, VICTIM)
    third_code = await mailed_code(running, email, 3)
    assert_too_many(await confirm(http, third, third_code, VICTIM), "too_many_wrong_codes", 3600)
    # Once the wrong codes are an hour old, the right code works.
    await asql(running, "UPDATE auth_wrong_codes SET at = at - interval '1 hour'")
    assert (await confirm(http, third, third_code, VICTIM)).status_code == 200


@pytest.mark.parametrize("running", [{"BACKEND_AUTH_WRONG_CODES_MAX": "7"}], indirect=True)
async def test_the_wrong_code_cap_holds_when_confirms_race(
    http: ContractClient, running: Running
) -> None:
    email = "raced@example.org"
    challenges = [await send_ok(http, email, f"198.51.100.{n}") for n in range(3)]
    codes = [await mailed_code(running, email, n + 1) for n in range(3)]
    answers: list[httpx.Response] = []

    async def guess(challenge_id: str, code: str, address: str) -> None:
        answers.append(await confirm(http, challenge_id, not_(code), address))

    async with trio.open_nursery() as nursery:
        for number in range(15):
            index = number % 3
            nursery.start_soon(guess, challenges[index], codes[index], f"192.0.2.{number}")
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [400] * 7 + [429] * 8
    for answer in answers:
        if answer.status_code == 429:
            assert answer.json()["error"]["code"] in {"too_many_wrong_codes", "too_many_attempts"}
            assert "Retry-After" in answer.headers
    assert sql(running, "SELECT sum(attempts) FROM auth_challenges WHERE email = %s", email) == [
        (7,)
    ]


async def test_sends_are_budgeted_per_client_address(
    http: ContractClient, running: Running
) -> None:
    """The issue's flood: 300 addresses from one client got 303 mails."""
    budget = 30  # the default: BACKEND_AUTH_CLIENT_SEND_MAX per _WINDOW (10m)
    answers: list[httpx.Response] = []

    async def one(number: int) -> None:
        answers.append(await send(http, f"flood{number}@example.org", ATTACKER))

    async with trio.open_nursery() as nursery:
        for number in range(budget + 10):
            nursery.start_soon(one, number)
    assert sum(1 for answer in answers if answer.status_code == 200) == budget
    for answer in answers:
        if answer.status_code != 200:
            assert_too_many(answer, "too_many_code_requests", 600)
    mails = "SELECT count(*) FROM mail_deliveries WHERE template_id = 'auth.login_code'"
    assert sql(running, mails) == [(budget,)]
    # Other clients are unaffected: another forwarded address, and the peer itself.
    assert (await send(http, "other@example.org", VICTIM)).status_code == 200
    peer = await http.post(SEND, json={"email": "peer@example.org"})
    assert peer.status_code == 200


@pytest.mark.parametrize("running", [{"BACKEND_AUTH_CLIENT_CONFIRM_MAX": "5"}], indirect=True)
async def test_failed_confirms_are_budgeted_per_client_address(
    http: ContractClient, running: Running
) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    for _ in range(4):
        assert_error_body(await confirm(http, unknown, "123456", ATTACKER), 404)
    # A login that succeeds costs nothing.
    challenge_id = await send_ok(http, "mine@example.org", ATTACKER)
    code = await mailed_code(running, "mine@example.org")
    assert (await confirm(http, challenge_id, code, ATTACKER)).status_code == 200
    assert_error_body(await confirm(http, unknown, "123456", ATTACKER), 404)
    spent = await confirm(http, unknown, "123456", ATTACKER)
    assert_too_many(spent, "too_many_failed_confirmations", 600)
    # Charged before the code is looked at: even a right one waits.
    challenge_id = await send_ok(http, "later@example.org", ATTACKER)
    code = await mailed_code(running, "later@example.org")
    refused = await confirm(http, challenge_id, code, ATTACKER)
    assert_too_many(refused, "too_many_failed_confirmations", 600)
    assert (await confirm(http, challenge_id, code, VICTIM)).status_code == 200

    # Racing confirms from one client cannot overdraw it.
    answers: list[httpx.Response] = []

    async def probe() -> None:
        answers.append(await confirm(http, unknown, "123456", "192.0.2.77"))

    async with trio.open_nursery() as nursery:
        for _ in range(12):
            nursery.start_soon(probe)
    assert sorted(answer.status_code for answer in answers) == [404] * 5 + [429] * 7
