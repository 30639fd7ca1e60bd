"""Email-code login through the public surface, with codes read from real mail."""

from __future__ import annotations

import base64
import uuid

import pytest
from nacl.signing import SigningKey

from tests.support.contract import ContractClient, assert_error_body
from tests.support.players import (
    CONFIRM,
    SEND,
    asql,
    codes_for,
    confirm,
    login,
    mailed_code,
    public_key,
    request_code,
    sql,
)
from tests.support.service import Running

pytestmark = pytest.mark.usefixtures("running")


async def test_first_login_creates_the_account_and_a_session(
    http: ContractClient, running: Running
) -> None:
    player = await login(http, running, "Ada@Example.org", locale="pt-br")
    account = await http.get("/api/v1/user/account", headers=player.headers)
    assert account.status_code == 200
    view = account.json()
    assert view["email"] == "ada@example.org"  # normalised
    assert view["preferred_language"] == "pt-BR"  # from the locale, canonical
    assert view["time_zone"] == "Europe/Berlin"
    assert view["user_name"].startswith("pilot-") and view["display_name"] == view["user_name"]
    assert view["entitlements"]["tier"] == "free"
    assert view["status"] == "active"
    again = await login(http, running, "ada@example.org", mail_number=2)
    assert again.user_id == player.user_id  # the same account
    assert again.device_session_id != player.device_session_id


async def test_answers_are_alike_for_new_known_and_throttled_addresses(
    http: ContractClient, running: Running
) -> None:
    await login(http, running, "known@example.org")
    known = await http.post(SEND, json={"email": "known@example.org"})
    new = await http.post(SEND, json={"email": "new@example.org"})
    assert known.status_code == new.status_code == 200
    assert set(known.json()) == set(new.json()) == {"challenge_id"}
    assert known.headers["content-length"] == new.headers["content-length"]


async def test_the_throttle_reuses_the_newest_live_challenge_past_the_limit(
    http: ContractClient, running: Running
) -> None:
    limit = running.config.auth.throttle_max
    issued = [await request_code(http, "busy@example.org") for _ in range(limit)]
    assert len(set(issued)) == limit
    await mailed_code(running, "busy@example.org", limit)
    reused = await request_code(http, "busy@example.org")
    assert reused == issued[-1]
    assert sql(
        running, "SELECT count(*) FROM auth_challenges WHERE email = %s", "busy@example.org"
    ) == [(limit,)]
    # No mail for the reused challenge: the outbox holds exactly one per challenge.
    rows = sql(
        running, "SELECT count(*) FROM mail_deliveries WHERE template_id = 'auth.login_code'"
    )
    assert rows == [(limit,)]


async def test_codes_are_stored_hashed_and_committed_with_their_mail(
    http: ContractClient, running: Running
) -> None:
    challenge_id = await request_code(http, "hash@example.org")
    code = await mailed_code(running, "hash@example.org")
    ((stored,),) = sql(
        running, "SELECT code_hash FROM auth_challenges WHERE challenge_id = %s", challenge_id
    )
    assert isinstance(stored, bytes) and len(stored) == 32 and code.encode() not in stored


async def test_a_wrong_code_spends_an_attempt_up_to_the_ceiling(
    http: ContractClient, running: Running
) -> None:
    challenge_id = await request_code(http, "guess@example.org")
    code = await mailed_code(running, "guess@example.org")
    wrong = "000000" if code != "000000" else "111111"
    ceiling = running.config.auth.challenge_max_attempts
    for left in range(ceiling - 1, -1, -1):
        response = await confirm(http, challenge_id, wrong)
        assert_error_body(response, 400, "invalid_code")
        assert f"{left} attempt" in response.json()["error"]["message"]
    # The ceiling is reached: even the right code is refused now.
    assert_error_body(await confirm(http, challenge_id, code), 429, "too_many_attempts")


async def test_a_code_works_once_and_not_after_expiry(
    http: ContractClient, running: Running
) -> None:
    challenge_id = await request_code(http, "once@example.org")
    code = await mailed_code(running, "once@example.org")
    assert (await confirm(http, challenge_id, code)).status_code == 200
    assert_error_body(await confirm(http, challenge_id, code), 409, "challenge_consumed")

    late = await request_code(http, "late@example.org")
    late_code = await mailed_code(running, "late@example.org")
    await asql(
        running,
        "UPDATE auth_challenges SET expires_at = now() - interval '1s' WHERE challenge_id = %s",
        late,
    )
    assert_error_body(await confirm(http, late, late_code), 400, "challenge_expired")
    unknown = str(uuid.uuid4())
    assert_error_body(await confirm(http, unknown, "123456"), 404, "challenge_not_found")


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("not base64!", "standard base64"),
        (base64.b64encode(bytes(31)).decode(), "32 bytes"),
        (base64.b64encode(bytes(32)).decode(), "valid Ed25519 point"),  # the identity: small order
        (base64.b64encode(b"\xff" * 32).decode(), "valid Ed25519 point"),  # not canonical
    ],
)
async def test_the_device_key_must_be_a_valid_ed25519_point(
    http: ContractClient, running: Running, key: str, why: str
) -> None:
    challenge_id = await request_code(http, "keys@example.org")
    code = await mailed_code(running, "keys@example.org")
    body = {
        "challenge_id": challenge_id,
        "code": code,
        "client_public_key": key,
        "time_zone": "UTC",
    }
    response = await http.post(CONFIRM, json=body)
    assert_error_body(response, 400, "invalid_public_key")
    assert why in response.json()["error"]["message"]
    # A refused key spends no attempt: the code still works with a good key.
    assert (await confirm(http, challenge_id, code, SigningKey.generate())).status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "not an address"}, "invalid_email"),
        ({"email": "a@example.org", "locale": "english"}, "invalid_language"),
        ({"email": "a@example.org", "extra": 1}, "unknown_field"),
        ({}, "invalid_email"),
        ({"email": 7}, "invalid_email"),
    ],
)
async def test_send_refuses_bad_input(
    http: ContractClient, body: dict[str, object], code: str
) -> None:
    assert_error_body(await http.post(SEND, json=body), 400, code)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"challenge_id": "nope"}, "invalid_id"),
        ({"code": "12345"}, "invalid_code_format"),
        ({"code": "١٢٣٤٥٦"}, "invalid_code_format"),  # digits, but not ASCII ones
        ({"time_zone": "Mars/Olympus"}, "invalid_time_zone"),
        ({"time_zone": "../../etc/passwd"}, "invalid_time_zone"),
    ],
)
async def test_confirm_refuses_bad_input(
    http: ContractClient, change: dict[str, str], code: str
) -> None:
    body = {
        "challenge_id": str(uuid.uuid4()),
        "code": "123456",
        "client_public_key": public_key(SigningKey.generate()),
        "time_zone": "UTC",
        **change,
    }
    assert_error_body(await http.post(CONFIRM, json=body), 400, code)


async def test_a_blocked_address_is_refused(http: ContractClient, running: Running) -> None:
    await asql(
        running, "INSERT INTO blocked_emails (email, reason) VALUES ('spam@example.org', 'spam')"
    )
    response = await http.post(SEND, json={"email": "SPAM@example.org"})
    assert_error_body(response, 400, "email_blocked")
    assert codes_for(running, "spam@example.org") == []


async def test_placeholder_names_are_retried_within_their_budget(
    http: ContractClient, running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await login(http, running, "first@example.org")
    taken = (await http.get("/api/v1/user/account", headers=first.headers)).json()["user_name"]
    budget = running.config.auth.username_max_retries
    names = iter([taken] * (budget - 1) + ["pilot-free"])
    monkeypatch.setattr("galaxy.services.accounts.placeholder_user_name", lambda: next(names))
    second = await login(http, running, "second@example.org")
    view = (await http.get("/api/v1/user/account", headers=second.headers)).json()
    assert view["user_name"] == "pilot-free"  # the last try of the budget

    monkeypatch.setattr("galaxy.services.accounts.placeholder_user_name", lambda: taken)
    challenge_id = await request_code(http, "third@example.org")
    code = await mailed_code(running, "third@example.org")
    assert_error_body(await confirm(http, challenge_id, code), 503, "user_name_unavailable")
    # Nothing was spent: the same code works once names are free again.
    monkeypatch.undo()
    assert (await confirm(http, challenge_id, code)).status_code == 200


async def test_the_declared_country_is_asked_once_at_registration(
    http: ContractClient, running: Running
) -> None:
    calls: list[tuple[uuid.UUID, str | None]] = []

    class Recorder:
        async def set_declared_country_at_registration(
            self, user_id: uuid.UUID, source_ip: str | None
        ) -> None:
            calls.append((user_id, source_ip))

    assert running.service.services is not None
    running.service.services.auth.geo = Recorder()
    forwarded = {"X-Forwarded-For": "203.0.113.9, 10.0.0.1"}
    for number in (1, 2):
        challenge_id = await request_code(http, "geo@example.org")
        code = await mailed_code(running, "geo@example.org", number)
        body = {
            "challenge_id": challenge_id,
            "code": code,
            "client_public_key": public_key(SigningKey.generate()),
            "time_zone": "UTC",
        }
        assert (await http.post(CONFIRM, json=body, headers=forwarded)).status_code == 200
    assert len(calls) == 1  # the first login only
    assert calls[0][1] == "203.0.113.9"  # the client, not the proxy
