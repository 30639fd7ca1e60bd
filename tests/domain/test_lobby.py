"""The lobby's rules on their own: the enrollment state machine, game settings, invite codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from galaxy.domain.errors import Conflict, InvalidInput
from galaxy.domain.lobby import (
    DEFAULT_SCHEDULE,
    ENGINE_MIN_RACES,
    INVITE_CODE_ALPHABET,
    INVITE_CODE_LENGTH,
    LIVE,
    MAX_PLAYERS,
    OVER,
    TRANSITIONS,
    Action,
    GameSettings,
    Status,
    check_invite_code,
    game_settings,
    new_invite_code,
    transition,
)

# -- the state machine -----------------------------------------------------------------


def test_an_action_moves_a_game_only_from_the_states_the_table_allows() -> None:
    for action, (allowed, target) in TRANSITIONS.items():
        for status in Status:
            if status in allowed:
                assert transition(status, action) is target
                continue
            with pytest.raises(Conflict) as refused:
                transition(status, action)
            assert refused.value.code == f"game_{status.value}", (status, action)
            assert status.value.replace("_", " ") in str(refused.value)


def test_every_action_has_a_row_and_every_row_leads_somewhere_new() -> None:
    assert set(TRANSITIONS) == set(Action)
    for action, (allowed, target) in TRANSITIONS.items():
        assert allowed, action
        assert target not in allowed, f"{action} leaves a game where it was"


def test_a_game_that_is_over_stays_over() -> None:
    for action, (allowed, _) in TRANSITIONS.items():
        assert not allowed & OVER, f"{action} revives a finished or cancelled game"
    assert not LIVE & OVER
    assert set(Status) == LIVE | OVER


def test_every_state_but_draft_is_reachable_and_every_live_state_can_end() -> None:
    targets = {target for _, target in TRANSITIONS.values()}
    assert targets == set(Status) - {Status.DRAFT}
    ending = {Action.CANCEL, Action.FINISH, Action.FORCE_STOP, Action.ENROLLMENT_EXPIRED_CANCEL}
    leaves = {s for action in ending for s in TRANSITIONS[action][0]}
    assert leaves == LIVE


@given(st.lists(st.sampled_from(list(Action)), max_size=30))
def test_any_sequence_of_actions_walks_the_table(actions: list[Action]) -> None:
    status = Status.DRAFT
    for action in actions:
        allowed, target = TRANSITIONS[action]
        try:
            after = transition(status, action)
        except Conflict:
            assert status not in allowed
            continue
        assert status in allowed
        assert after is target
        status = after
    assert status in LIVE | OVER


# -- settings ----------------------------------------------------------------------


def test_a_create_body_with_a_name_only_takes_the_defaults() -> None:
    settings = game_settings({"name": "  Andromeda  "})
    assert settings == GameSettings(
        name="Andromeda",
        description="",
        visibility="public",
        min_players=2,
        max_players=8,
        auto_approve=False,
        enrollment_deadline=None,
        turn_schedule=DEFAULT_SCHEDULE,
        engine_version=None,
    )
    assert settings.to_row()["turn_schedule"] == DEFAULT_SCHEDULE
    assert set(settings.to_row()) == {
        "name",
        "description",
        "visibility",
        "min_players",
        "max_players",
        "auto_approve",
        "enrollment_deadline",
        "turn_schedule",
        "engine_version",
    }


def test_a_patch_keeps_what_it_does_not_name() -> None:
    current = game_settings({"name": "Andromeda", "max_players": 12, "visibility": "private"})
    patched = game_settings({"description": "a quiet corner"}, current)
    assert patched.name == "Andromeda"
    assert patched.max_players == 12
    assert patched.visibility == "private"
    assert patched.description == "a quiet corner"


BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    ({}, "invalid_name"),
    ({"name": "   "}, "invalid_name"),
    ({"name": "x" * 65}, "invalid_name"),
    ({"name": 7}, "invalid_name"),
    ({"name": "ok", "description": "x" * 2001}, "invalid_description"),
    ({"name": "ok", "visibility": "secret"}, "invalid_visibility"),
    ({"name": "ok", "min_players": 1}, "invalid_players"),
    ({"name": "ok", "min_players": 5, "max_players": 4}, "invalid_players"),
    ({"name": "ok", "max_players": MAX_PLAYERS + 1}, "invalid_players"),
    ({"name": "ok", "min_players": True}, "invalid_players"),
    ({"name": "ok", "max_players": 8.0}, "invalid_players"),
    ({"name": "ok", "auto_approve": "yes"}, "invalid_auto_approve"),
    ({"name": "ok", "enrollment_deadline": "2000-01-01T00:00:00Z"}, "invalid_time"),
    ({"name": "ok", "enrollment_deadline": "tomorrow"}, "invalid_time"),
    ({"name": "ok", "turn_schedule": "every day"}, "invalid_schedule"),
    ({"name": "ok", "engine_version": "1.2"}, "invalid_engine_version"),
    ({"name": "ok", "engine_version": 1}, "invalid_engine_version"),
]


@pytest.mark.parametrize(("body", "code"), BAD_SETTINGS)
def test_bad_settings_are_refused_with_a_code_naming_the_field(
    body: dict[str, Any], code: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        game_settings(body)
    assert refused.value.code == code


def test_a_future_deadline_is_kept_as_a_time() -> None:
    later = datetime.now(UTC) + timedelta(days=3)
    settings = game_settings({"name": "ok", "enrollment_deadline": later.isoformat()})
    assert settings.enrollment_deadline == later


def test_a_game_below_the_engine_minimum_keeps_it_until_its_player_counts_change() -> None:
    old = GameSettings("Old", "", "public", 1, 4, False, None, DEFAULT_SCHEDULE, None)
    assert game_settings({"description": "renamed nothing"}, old).min_players == 1
    with pytest.raises(InvalidInput):
        game_settings({"min_players": 1}, old)
    assert game_settings({"min_players": ENGINE_MIN_RACES}, old).min_players == ENGINE_MIN_RACES


# -- invite codes ------------------------------------------------------------------


def test_new_invite_codes_are_read_back_as_themselves() -> None:
    codes = {new_invite_code() for _ in range(50)}
    assert len(codes) == 50  # 60 bits each: a repeat here is a broken generator
    for code in codes:
        assert len(code) == INVITE_CODE_LENGTH
        assert set(code) <= set(INVITE_CODE_ALPHABET)
        assert check_invite_code(code) == code


@given(st.text(INVITE_CODE_ALPHABET, min_size=12, max_size=12), st.integers(1, 11))
def test_an_invite_code_may_be_typed_in_small_letters_and_groups(code: str, cut: int) -> None:
    typed = f"{code[:cut].lower()} - {code[cut:]}"
    assert check_invite_code(typed) == code


@pytest.mark.parametrize(
    "raw", [None, 12, "", "ABCDEFGHJKL", "ABCDEFGHJKLMN", "ABCDEFGHJKL0", "ABCDEFGHJKLI"]
)
def test_a_code_of_the_wrong_length_or_with_confusable_symbols_is_refused(raw: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_invite_code(raw)
    assert refused.value.code == "invalid_invite_code"
