"""Strict JSON, by property (the hostile classes, by example, are in tests/http)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from galaxy.domain.strict import MAX_DEPTH, JSONRejected, loads, whole_number

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=["Cs"]))
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(documents, st.booleans())
def test_whatever_an_encoder_writes_reads_back_the_same(value: object, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert loads(raw) == value


@given(st.integers(1, 3 * MAX_DEPTH))
def test_nesting_is_read_up_to_the_limit_and_refused_past_it(depth: int) -> None:
    raw = ("[" * depth + "]" * depth).encode()
    try:
        loads(raw)
    except JSONRejected:
        assert depth > MAX_DEPTH
    else:
        assert depth <= MAX_DEPTH


@given(st.integers(0xD800, 0xDFFF))
def test_every_lone_surrogate_escape_is_refused(code: int) -> None:
    try:
        loads(f'{{"name": "a\\u{code:04x}"}}'.encode())
    except JSONRejected:
        return
    raise AssertionError(f"\\u{code:04x} was accepted")


@given(st.integers(0, 999_999_999))
def test_whole_numbers_in_ascii_digits_read_back(value: int) -> None:
    assert whole_number(str(value)) == value


@given(st.text(min_size=1, max_size=9))
def test_a_whole_number_is_nothing_but_ascii_digits(raw: str) -> None:
    if raw.isascii() and raw.isdigit():
        assert whole_number(raw) == int(raw)
    else:
        assert whole_number(raw) is None


def test_only_the_canonical_uuid_form_is_an_id() -> None:
    from galaxy.domain.strict import canonical_uuid

    value = "0b6f6f7e-1d1e-4a8e-8a55-3c1f1a0c2b22"
    assert str(canonical_uuid(value)) == value
    assert str(canonical_uuid(value.upper())) == value
    for other in (value.replace("-", ""), f"urn:uuid:{value}", f"{{{value}}}", f" {value}", ""):
        assert canonical_uuid(other) is None
