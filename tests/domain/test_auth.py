"""Login rules on their own: addresses, one-time codes, device keys, placeholder names."""

from __future__ import annotations

import base64
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from galaxy.domain.auth import (
    CODE_DIGITS,
    check_code_format,
    code_hash,
    code_matches,
    decode_public_key,
    encode_public_key,
    new_login_code,
    normalize_email,
    placeholder_user_name,
)
from galaxy.domain.errors import InvalidInput


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("ann@example.org", "ann@example.org"),
        ("  Ann@Example.ORG ", "ann@example.org"),
        ("ANN.SMITH+galaxy@example.org", "ann.smith+galaxy@example.org"),
    ],
)
def test_an_address_is_keyed_in_small_letters(raw: str, key: str) -> None:
    assert normalize_email(raw) == key


@pytest.mark.parametrize(
    "raw",
    [None, 42, "", "   ", "ann", "ann@", "@example.org", "a b@example.org", "a" * 250 + "@x.org"],
)
def test_what_is_not_an_address_is_refused(raw: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_email(raw)
    assert refused.value.code == "invalid_email"


def test_login_codes_are_six_ascii_digits_that_pass_their_own_check() -> None:
    codes = [new_login_code() for _ in range(200)]
    for code in codes:
        assert len(code) == CODE_DIGITS
        assert check_code_format(code) == code
    assert len(set(codes)) > 150  # a million values: a few repeats at most


@pytest.mark.parametrize("raw", [None, 123456, "12345", "1234567", "12345a", "١٢٣٤٥٦", " 12345"])
def test_a_code_that_is_not_six_ascii_digits_is_refused(raw: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_code_format(raw)
    assert refused.value.code == "invalid_code_format"


@given(st.uuids(), st.from_regex(r"\A[0-9]{6}\Z"), st.from_regex(r"\A[0-9]{6}\Z"))
def test_a_stored_code_matches_only_the_code_and_the_challenge_it_was_made_for(
    challenge: uuid.UUID, code: str, other: str
) -> None:
    stored = code_hash(challenge, code)
    assert code.encode() not in stored
    assert code_matches(challenge, code, stored)
    assert code_matches(challenge, other, stored) == (other == code)
    assert not code_matches(uuid.uuid4(), code, stored)


def test_a_real_ed25519_public_key_round_trips() -> None:
    key = bytes(SigningKey.generate().verify_key)
    assert decode_public_key(encode_public_key(key)) == key


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"\x00" * 32,
        "not base64!",
        base64.b64encode(b"\x01" * 31).decode(),  # too short
        base64.b64encode(bytes(SigningKey.generate().verify_key) + b"\x00").decode(),  # too long
        base64.b64encode(b"\x01" + b"\x00" * 31).decode(),  # the identity: small order
        base64.b64encode(b"\xff" * 32).decode(),  # not a canonical encoding
        base64.urlsafe_b64encode(b"\xfb" * 32).decode(),  # URL-safe alphabet, not standard
    ],
)
def test_a_key_that_is_not_a_valid_point_in_standard_base64_is_refused(raw: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        decode_public_key(raw)
    assert refused.value.code == "invalid_public_key"


def test_placeholder_names_are_pilots_that_differ() -> None:
    names = {placeholder_user_name() for _ in range(20)}
    assert len(names) == 20
    assert all(name.startswith("pilot-") and len(name) == len("pilot-") + 10 for name in names)
