"""Admin roles: a viewer reads, an operator acts; the last enabled operator stays one."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.support.contract import ContractClient, assert_error_body, operations
from tests.support.service import admin_auth

ADMINS = "/api/v1/admin/admin-accounts"
PASSWORD = "a long enough password"
VIEWER = ("watcher", PASSWORD)
OPERATOR = ("doer", PASSWORD)


async def create(http: ContractClient, username: str, role: str | None) -> httpx.Response:
    body = {"username": username, "password": PASSWORD}
    if role is not None:
        body["role"] = role
    return await http.post(ADMINS, json=body, auth=admin_auth())


def acting_operations() -> list[tuple[str, str, str]]:
    """(operationId, method, a concrete path) of every admin operation that is not a read;
    path parameters get a well-formed id that names nothing."""
    found = []
    for operation_id, (method, template) in sorted(operations().items()):
        if template.startswith("/api/v1/admin/") and method not in ("GET", "HEAD"):
            path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), template)
            found.append((operation_id, method, path))
    return found


async def test_a_new_admin_is_a_viewer_unless_named_operator(http: ContractClient) -> None:
    viewer = await create(http, "watcher", None)
    assert viewer.status_code == 201 and viewer.json()["role"] == "viewer"
    operator = await create(http, "doer", "operator")
    assert operator.json()["role"] == "operator"
    assert_error_body(await create(http, "boss", "root"), 400, "invalid_role")
    listed = (await http.get(ADMINS, auth=admin_auth())).json()["items"]
    assert {a["username"]: a["role"] for a in listed} == {
        "doer": "operator",
        "root": "operator",  # the bootstrap admin
        "watcher": "viewer",
    }
    for auth, name, role in ((VIEWER, "watcher", "viewer"), (admin_auth(), "root", "operator")):
        me = await http.get("/api/v1/admin/me", auth=auth)
        assert me.json() == {"username": name, "role": role}


async def test_a_viewer_may_not_act_anywhere_and_an_operator_may(http: ContractClient) -> None:
    await create(http, "watcher", "viewer")
    await create(http, "doer", "operator")
    acting = acting_operations()
    assert len(acting) > 20  # the sweep sees the whole admin surface, not an empty list
    for operation_id, method, path in acting:
        refused = await http.request(method, path, json={}, auth=VIEWER)
        assert_error_body(refused, 403, "forbidden_role")
        assert operation_id in http.exercised  # the contract declares the 403
        # The same request by an operator is judged on its merits (a 4xx of its own).
        judged = await http.request(method, path, json={}, auth=OPERATOR)
        assert judged.status_code != 403, (operation_id, judged.text)
    # Also where no route is: the role is checked before routing, as credentials are.
    assert_error_body(
        await http.post("/api/v1/admin/no-such-thing", auth=VIEWER), 403, "forbidden_role"
    )
    assert (await http.get(ADMINS, auth=VIEWER)).status_code == 200  # reading is fine


async def test_a_role_change_applies_from_the_next_request(http: ContractClient) -> None:
    await create(http, "watcher", "viewer")
    assert (await http.get(ADMINS, auth=VIEWER)).status_code == 200  # verified and cached
    promoted = await http.post(
        f"{ADMINS}/watcher/role", json={"role": "operator"}, auth=admin_auth()
    )
    assert promoted.json()["role"] == "operator"
    made = await create(http, "helper", "viewer")
    assert made.status_code == 201
    made = await http.post(ADMINS, json={"username": "x", "password": PASSWORD}, auth=VIEWER)
    assert made.status_code == 201  # the promoted viewer acts at once
    demoted = await http.post(f"{ADMINS}/watcher/role", json={"role": "viewer"}, auth=VIEWER)
    assert demoted.json()["role"] == "viewer"  # an operator may demote themself
    again = await http.post(f"{ADMINS}/watcher/role", json={"role": "operator"}, auth=VIEWER)
    assert_error_body(again, 403, "forbidden_role")
    assert_error_body(
        await http.post(f"{ADMINS}/nobody/role", json={"role": "viewer"}, auth=admin_auth()),
        404,
        "admin_not_found",
    )
    assert_error_body(
        await http.post(f"{ADMINS}/watcher/role", json={"role": "god"}, auth=admin_auth()),
        400,
        "invalid_role",
    )


async def test_the_last_enabled_operator_stays_one(http: ContractClient) -> None:
    await create(http, "watcher", "viewer")
    demote = {"role": "viewer"}
    assert_error_body(
        await http.post(f"{ADMINS}/root/role", json=demote, auth=admin_auth()), 409, "last_operator"
    )
    # A viewer is left enabled, but no one could act any more.
    assert_error_body(
        await http.post(f"{ADMINS}/root/disable", auth=admin_auth()), 409, "last_operator"
    )
    await create(http, "doer", "operator")
    assert (await http.post(f"{ADMINS}/root/disable", auth=OPERATOR)).status_code == 200
    assert_error_body(
        await http.post(f"{ADMINS}/doer/role", json=demote, auth=OPERATOR), 409, "last_operator"
    )
    # A disabled operator does not count: enabling root back lets doer step down.
    assert (await http.post(f"{ADMINS}/root/enable", auth=OPERATOR)).status_code == 200
    stepped_down = await http.post(f"{ADMINS}/doer/role", json=demote, auth=OPERATOR)
    assert stepped_down.json()["role"] == "viewer"
    assert (await http.get("/api/v1/admin/me", auth=OPERATOR)).json()["role"] == "viewer"
