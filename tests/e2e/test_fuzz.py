"""Fuzzing every operation of openapi.yaml with schemathesis: no 5xx, every answer on contract.

Every operation is fuzzed twice: with data that fits the contract (positive)
and with data that breaks it (negative: wrong types, missing members,
values out of range, malformed path and query parameters). Both must be
answered without a 5xx and on contract; negative data must be refused.

Schemathesis (requests, blocking) runs in a worker thread while the service
runs in the test's trio loop. A real user stands behind X-User-ID and a
fuzzing admin behind Basic auth, so generated requests reach past the
guards. The number of examples per operation and mode is bounded
(`GALAXY_FUZZ_EXAMPLES`, default 8), and the run is derandomised, so the
suite stays fast and repeatable. Every example runs once and every failure
is collected (no shrinking), so one run reports every failing operation and
counts every 5xx.
"""

from __future__ import annotations

import base64
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.checks import negative_data_rejection

from tests.support.contract import ContractClient, backend_spec
from tests.support.lobby import make_user
from tests.support.service import ADMIN, Running

EXAMPLES = int(os.environ.get("GALAXY_FUZZ_EXAMPLES", "8"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
CHECKS = {
    GenerationMode.POSITIVE: [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ],
    GenerationMode.NEGATIVE: [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        negative_data_rejection,
    ],
}
# Operations whose success would pull the ground from under the run itself.
SPARED = {"adminResetAdminPassword", "adminDisableAdminAccount"}


@dataclass
class Tally:
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    server_errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Operations with nothing to negate (no parameters, no body, free-form strings only).
    vacuous: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)


def fuzz(base_url: str, headers: dict[str, str]) -> Tally:
    schema = schemathesis.openapi.from_dict(backend_spec().document)
    tally = Tally()
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema fails here
        if operation.definition.raw.get("operationId") in SPARED:
            continue
        for mode in MODES:
            fuzz_one(operation, mode, base_url, headers, tally)
    return tally


def fuzz_one(
    operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str], tally: Tally
) -> None:
    key = (operation.label, mode.value)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
    def run(case: Any) -> None:
        tally.calls[key] += 1
        try:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
        except Exception as error:
            tally.failures.append(f"{key}: could not call: {error!r}"[:300])
            return
        if response.status_code >= 500:
            tally.server_errors[key] += 1
        try:
            case.validate_response(response, checks=CHECKS[mode], headers=headers)
        except (Exception, BaseExceptionGroup) as error:  # noted: one run reports every failure
            tally.failures.append(f"{key}: {str(error).splitlines()[:8]}")

    try:
        run()
    except Unsatisfiable:
        if mode.is_positive or operation.body:
            tally.failures.append(f"{key}: no example could be generated")
        else:
            tally.vacuous.add(operation.label)
    except Exception as error:
        tally.failures.append(f"{key}: could not fuzz: {error!r}"[:300])


async def test_no_operation_answers_5xx_or_off_contract(
    running: Running, http: ContractClient
) -> None:
    user = await make_user(running, http, "fuzz@example.org")
    token = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    headers = {"X-User-ID": user.user_id, "Authorization": f"Basic {token}"}
    tally = await trio.to_thread.run_sync(fuzz, running.http, headers)
    total_5xx = sum(tally.server_errors.values())
    summary = (
        f"{sum(tally.calls.values())} requests, {total_5xx} answered 5xx "
        f"({dict(tally.server_errors)}), {len(tally.failures)} failures; "
        f"nothing to negate in {sorted(tally.vacuous)}"
    )
    print(summary)
    assert tally.failures == [], summary + "\n" + "\n".join(tally.failures)
    assert total_5xx == 0, summary
    fuzzed = len(backend_spec().operations()) - len(SPARED)
    for mode in MODES:
        modal = {label for (label, m), n in tally.calls.items() if m == mode.value and n}
        if mode.is_negative:
            modal |= tally.vacuous
        assert len(modal) == fuzzed, (mode, modal)
