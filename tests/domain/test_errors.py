"""The error hierarchy's helpers: finding what stopped a start inside trio's groups."""

from __future__ import annotations

import pytest

from galaxy.domain.errors import StartupFailure, find_error


def _wrapped(failure: BaseException) -> RuntimeError:
    wrapper = RuntimeError("root/edges/http failed to start")
    wrapper.__cause__ = failure
    return wrapper


def _failing_handler() -> None:
    try:
        raise StartupFailure("PostgreSQL at db:5432: connection refused")  # noqa: TRY301
    except StartupFailure:
        raise KeyError("a bug in the handler")  # noqa: B904 - the context is the point


def test_a_startup_failure_is_found_inside_groups_and_causes() -> None:
    failure = StartupFailure("HTTP listen address 127.0.0.1:8080 is in use")
    inner = ExceptionGroup("inner", [_wrapped(failure)])
    group = ExceptionGroup("nursery", [ValueError("other"), inner])
    assert find_error(group, StartupFailure) is failure


def test_a_bug_raised_while_handling_a_failure_is_not_that_failure() -> None:
    with pytest.raises(KeyError) as bug:
        _failing_handler()
    assert bug.value.__context__ is not None  # the failure is there, as context only
    assert find_error(bug.value, StartupFailure) is None
