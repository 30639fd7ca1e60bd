"""Which tests start the whole service: the `service` marker, set at collection.

A test starts the whole service when it, a fixture it uses, or a helper of the
tests that either calls, calls `start_service` (the in-process `Service`, as
the `running` fixture does) or runs the `galaxy` process until it is ready
(`read_until_ready`, `GalaxyProcess`, the `start_galaxy` fixture). Counting them is one
command:

    python -m pytest --collect-only -q -m service | tail -1
"""

from __future__ import annotations

import types
from typing import Any

import pytest

MARKER = "service"
# Names whose mention in a test's or fixture's code means the whole service starts.
STARTERS = frozenset({"start_service", "read_until_ready", "GalaxyProcess", "start_galaxy"})


def _names(code: types.CodeType) -> set[str]:
    """Every global or attribute name `code` and the functions nested in it refer to."""
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _names(const)
    return found


def _mentions_a_starter(function: Any, seen: set[int] | None = None) -> bool:
    """Whether `function`, or a function of the tests it names, mentions a starter."""
    seen = set() if seen is None else seen
    code = getattr(function, "__code__", None)
    if not isinstance(code, types.CodeType) or id(code) in seen:
        return False
    seen.add(id(code))
    names = _names(code)
    if names & STARTERS:
        return True
    scope = getattr(function, "__globals__", {})
    return any(
        _mentions_a_starter(helper, seen)
        for helper in (scope.get(name) for name in names)
        if isinstance(helper, types.FunctionType) and helper.__module__.startswith("tests.")
    )


def starts_the_service(item: pytest.Item) -> bool:
    if not isinstance(item, pytest.Function):
        return False
    if _mentions_a_starter(item.function) or STARTERS & set(item.fixturenames):
        return True
    definitions = item._fixtureinfo.name2fixturedefs
    return any(
        _mentions_a_starter(fixturedef.func)
        for name in item.fixturenames
        for fixturedef in definitions.get(name, ())
    )


def mark_service_tests(items: list[pytest.Item]) -> None:
    for item in items:
        if starts_the_service(item):
            item.add_marker(MARKER)
