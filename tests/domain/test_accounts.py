"""Account rules on their own: settings values, tiers, sanctions, limits, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from galaxy.domain.accounts import (
    DEFAULT_LIMITS,
    LIMIT_MAX,
    LIMITS,
    SANCTIONS,
    TIERS,
    check_display_name,
    check_expiry,
    check_language,
    check_limit_kind,
    check_limit_value,
    check_reason,
    check_sanction_kind,
    check_source,
    check_tier,
    check_time_zone,
    parse_timestamp,
)
from galaxy.domain.errors import InvalidInput

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def refused(code: str) -> pytest.RaisesExc[InvalidInput]:
    return pytest.raises(InvalidInput, check=lambda error: error.code == code)


@pytest.mark.parametrize(("raw", "tag"), [("en", "en"), ("en-us", "en-US"), ("PT-br", "pt-BR")])
def test_a_language_tag_comes_back_in_its_canonical_casing(raw: str, tag: str) -> None:
    assert check_language(raw) == tag


@pytest.mark.parametrize("raw", [None, "", "english!", "x" * 36, 7])
def test_what_is_not_a_language_tag_is_refused(raw: object) -> None:
    with refused("invalid_language"):
        check_language(raw)


def test_time_zones_are_iana_names() -> None:
    assert check_time_zone("Europe/Berlin") == "Europe/Berlin"
    assert check_time_zone("UTC") == "UTC"
    for raw in ("Mars/Olympus", "europe/berlin", "+01:00", None):
        with refused("invalid_time_zone"):
            check_time_zone(raw)


def test_display_names_are_nfc_and_may_hold_letters_digits_and_a_little_punctuation() -> None:
    assert check_display_name("Ann O'Neil-Smith_2.0") == "Ann O'Neil-Smith_2.0"
    assert check_display_name("Zoe\u0301") == "Zo\u00e9"  # NFC: one letter, however typed


@pytest.mark.parametrize(
    "raw", [None, "A", "x" * 33, " Ann", "Ann ", "Ann  Lee", "Ann!", "<script>", "--", "._."]
)
def test_bad_display_names_are_refused(raw: object) -> None:
    with refused("invalid_display_name"):
        check_display_name(raw)


def test_a_reason_is_trimmed_and_required_unless_said_otherwise() -> None:
    assert check_reason("  spam  ") == "spam"
    assert check_reason(None, required=False) == ""
    for raw in (None, "", "   ", "x" * 501, 3):
        with refused("invalid_reason"):
            check_reason(raw)


def test_tiers_and_sources_are_closed_sets() -> None:
    for tier in TIERS:
        assert check_tier(tier) == tier
    with refused("invalid_tier"):
        check_tier("gold")
    with refused("invalid_tier"):
        check_tier(1)
    assert check_source(None) == "admin"
    assert check_source("purchase") == "purchase"
    with refused("invalid_source"):
        check_source("gift")
    # JSON can carry a list or an object where a name belongs: refused, not a TypeError
    unhashables: list[object] = [[], {}, ["free"]]
    for unhashable in unhashables:
        with refused("invalid_tier"):
            check_tier(unhashable)
        with refused("invalid_source"):
            check_source(unhashable)


def test_a_higher_tier_never_holds_fewer_names() -> None:
    assert list(TIERS.values()) == sorted(TIERS.values())


def test_each_sanction_kind_takes_an_expiry_as_it_says() -> None:
    later = NOW + timedelta(days=1)
    block = check_sanction_kind("permanent_block")
    suspension = check_sanction_kind("login_suspension")
    ban = check_sanction_kind("lobby_ban")
    check_expiry(block, None, NOW)
    check_expiry(suspension, later, NOW)
    check_expiry(ban, None, NOW)
    check_expiry(ban, later, NOW)
    with refused("invalid_expiry"):
        check_expiry(block, later, NOW)
    with refused("invalid_expiry"):
        check_expiry(suspension, None, NOW)
    with refused("invalid_expiry"):
        check_expiry(ban, NOW, NOW)  # not in the future
    with refused("invalid_sanction_kind"):
        check_sanction_kind("exile")


def test_only_the_sanctions_that_stop_logins_end_sessions() -> None:
    ending = {name for name, kind in SANCTIONS.items() if kind.ends_sessions}
    assert ending == {"permanent_block", "login_suspension"}


def test_every_limit_has_a_default() -> None:
    assert set(LIMITS) == set(DEFAULT_LIMITS)
    for kind in LIMITS:
        assert check_limit_kind(kind) == kind
    with refused("invalid_limit_kind"):
        check_limit_kind("max_planets")


@given(st.integers(0, LIMIT_MAX))
def test_a_limit_value_in_range_is_kept(value: int) -> None:
    assert check_limit_value(value) == value


@pytest.mark.parametrize("raw", [-1, LIMIT_MAX + 1, True, 1.5, "10"])
def test_a_limit_value_out_of_range_or_not_whole_is_refused(raw: object) -> None:
    with refused("invalid_limit_value"):
        check_limit_value(raw)


def test_null_clears_a_limit() -> None:
    assert check_limit_value(None) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2030-01-01T00:00:00Z", NOW),
        ("2030-01-01T01:00+01:00", NOW),
        ("2030-01-01T00:00:00.5Z", NOW + timedelta(milliseconds=500)),
        (None, None),
    ],
)
def test_timestamps_carry_an_offset(raw: str | None, expected: datetime | None) -> None:
    assert parse_timestamp(raw, "at") == expected


@pytest.mark.parametrize(
    "raw", ["2030-01-01T00:00:00", "2030-01-01", "2030-13-01T00:00:00Z", "tomorrow", 1893456000]
)
def test_a_time_without_an_offset_or_not_a_time_is_refused(raw: object) -> None:
    with refused("invalid_time"):
        parse_timestamp(raw, "at")
