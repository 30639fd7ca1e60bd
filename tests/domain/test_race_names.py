"""What a race name may look like (the canonical key has its own tests in tests/e2e/lobby)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from galaxy.domain.errors import InvalidInput
from galaxy.domain.race_names import NAME_MAX, canonical, check_race_name


@pytest.mark.parametrize("raw", ["Vogons", "The Kzin", "Ur-Quan Kzer-Za", "T'Pau", "Ærø", "R2"])
def test_letters_digits_spaces_hyphens_and_apostrophes_make_a_name(raw: str) -> None:
    assert check_race_name(raw) == raw


def test_a_name_is_kept_in_nfc() -> None:
    assert check_race_name("Ae\u0301on") == "A\u00e9on"


@pytest.mark.parametrize(
    "raw",
    [None, 7, "V", "x" * (NAME_MAX + 1), " Vogons", "Vogons ", "Vo  gons", "Vogons!", "42", "--"],
)
def test_bad_race_names_are_refused(raw: object) -> None:
    with pytest.raises(InvalidInput, check=lambda e: e.code == "invalid_race_name"):
        check_race_name(raw)


names = st.text(
    st.characters(categories=["Lu", "Ll", "Nd"], max_codepoint=0x2FF), min_size=2, max_size=12
)


@given(names, names)
def test_the_key_ignores_how_many_spaces_separate_words(first: str, second: str) -> None:
    assert canonical(f"{first}  {second}") == canonical(f"{first} {second}")


@given(names)
def test_a_compatibility_form_shares_the_key_of_its_plain_form(name: str) -> None:
    assert canonical(unicodedata.normalize("NFKD", name)) == canonical(name)
