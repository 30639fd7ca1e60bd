"""Fuzzing every operation of openapi.yaml with schemathesis: no 5xx, every answer on contract.

Schemathesis (requests, blocking) runs in a worker thread while the service
runs in the test's trio loop. A real user stands behind X-User-ID and a
fuzzing admin behind Basic auth, so generated requests reach past the
guards. The number of examples per operation is bounded
(`GALAXY_FUZZ_EXAMPLES`, default 8), and the run is derandomised, so the
suite stays fast and repeatable.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import schemathesis
import trio
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN, Running
from tests.lobby.conftest import make_user
from tests.support.contract import ContractClient, backend_spec

EXAMPLES = int(os.environ.get("GALAXY_FUZZ_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Operations whose success would pull the ground from under the run itself.
SPARED = {"adminResetAdminPassword", "adminDisableAdminAccount"}


def fuzz(base_url: str, headers: dict[str, str]) -> tuple[list[str], dict[str, int]]:
    schema = schemathesis.openapi.from_dict(backend_spec().document)
    failures: list[str] = []
    calls: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.definition.raw.get("operationId") not in SPARED:
            fuzz_one(operation, base_url, headers, failures, calls)
    return failures, calls


def fuzz_one(
    operation: Any,
    base_url: str,
    headers: dict[str, str],
    failures: list[str],
    calls: dict[str, int],
) -> None:
    label = operation.label

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        calls[label] = calls.get(label, 0) + 1
        try:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)
        except Exception as error:  # noted, so one run reports every failing operation
            failures.append(f"{label}: {str(error).splitlines()[:6]}")
            raise

    try:
        run()
    except Exception as error:
        if not failures or not failures[-1].startswith(label):
            failures.append(f"{label}: could not fuzz: {error!r}"[:300])


async def test_no_operation_answers_5xx_or_off_contract(
    running: Running, http: ContractClient
) -> None:
    user = await make_user(running, http, "fuzz@example.org")
    token = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    headers = {"X-User-ID": user.user_id, "Authorization": f"Basic {token}"}
    failures, calls = await trio.to_thread.run_sync(fuzz, running.http, headers)
    assert failures == [], "\n".join(failures)
    fuzzed = len(backend_spec().operations()) - len(SPARED)
    assert len(calls) == fuzzed and min(calls.values()) >= 1, calls
