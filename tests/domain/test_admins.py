"""Administrator account rules and the gateway's credential, on their own."""

from __future__ import annotations

import pytest

from galaxy.domain.admins import PASSWORD_MAX_BYTES, PASSWORD_MIN, check_password, check_username
from galaxy.domain.errors import InvalidInput
from galaxy.domain.gateway_credentials import (
    GatewayCredentials,
    fingerprint,
    parse_gateway_tokens,
)

TOKEN = "gateway-token-number-one-0123456789"
NEXT = "gateway-token-number-two-0123456789"


def test_usernames_are_what_the_tables_check_allows() -> None:
    assert check_username("ops.team@galaxy-1_a") == "ops.team@galaxy-1_a"
    for raw in ("", "x" * 65, "ops team", "ops/team", None):
        with pytest.raises(InvalidInput, check=lambda e: e.code == "invalid_username"):
            check_username(raw)


def test_passwords_fit_between_the_minimum_and_what_bcrypt_reads() -> None:
    assert check_password("x" * PASSWORD_MIN) == "x" * PASSWORD_MIN
    assert check_password("x" * PASSWORD_MAX_BYTES) == "x" * PASSWORD_MAX_BYTES
    # bytes, not characters: 24 three-byte letters are 72 bytes, 25 are too many
    assert check_password("€" * 24) == "€" * 24
    for raw in ("x" * (PASSWORD_MIN - 1), "x" * (PASSWORD_MAX_BYTES + 1), "€" * 25, None):
        with pytest.raises(InvalidInput, check=lambda e: e.code == "invalid_password"):
            check_password(raw)


def test_several_gateway_tokens_may_be_configured_for_a_rotation() -> None:
    assert parse_gateway_tokens(f" {TOKEN} ,{NEXT},") == (TOKEN, NEXT)


@pytest.mark.parametrize(
    "text", ["", " , ", "short", "change-me-change-me-change-me", f"{TOKEN} with spaces"]
)
def test_a_token_that_is_not_a_secret_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_gateway_tokens(text)


def test_the_gateway_is_identified_by_any_accepted_token_and_named_by_its_fingerprint() -> None:
    credentials = GatewayCredentials((TOKEN, NEXT))
    assert credentials.required
    assert credentials.identify(f"Bearer {TOKEN}") == fingerprint(TOKEN.encode())
    assert credentials.identify(f"bearer {NEXT}".encode()) == fingerprint(NEXT.encode())
    assert fingerprint(TOKEN.encode()) != fingerprint(NEXT.encode())
    assert TOKEN not in repr(credentials)


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN]
)
def test_anything_but_an_accepted_bearer_token_identifies_nobody(
    authorization: str | None,
) -> None:
    assert GatewayCredentials((TOKEN,)).identify(authorization) is None


def test_no_tokens_means_none_is_required() -> None:
    assert not GatewayCredentials().required
    assert GatewayCredentials().identify(f"Bearer {TOKEN}") is None
