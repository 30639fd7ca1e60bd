"""Hostile input is refused with a 400 and never answered with a 500 (issue 16).

Each class of input that gave a 500 in the black-box attack is a case here,
sent to every operation of openapi.yaml it applies to: JSON the standard
library accepts but the contract cannot mean (NaN, Infinity, lone
surrogates, nesting past any real body, numbers past any real value),
values of the wrong JSON type in every member of every body, Unicode digits
in integer path and query parameters. A crash answers a generic 500 that
names nothing internal.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import trio
from quart import Blueprint
from quart_trio import QuartTrio

import galaxy.http
from galaxy.actors.errors import ActorCrashed
from galaxy.domain.strict import MAX_DEPTH, JSONRejected, loads, whole_number
from galaxy.http.app import SURFACES, create_app
from galaxy.http.schemas import body_schemas
from tests.support.asgi import serve_on_loopback
from tests.support.contract import assert_error_body, backend_spec
from tests.support.service import ADMIN, Running

BODY_METHODS = ("post", "put", "patch")


# -- the strict reading itself ------------------------------------------------------------


def nested(depth: int) -> bytes:
    """`depth` containers, one inside the other: [[...[{}]...]]."""
    return b"[" * (depth - 1) + b"{}" + b"]" * (depth - 1)


def nested_value(depth: int) -> object:
    value: object = {}
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b'{"a": [1, -2, 3.5, true, null, "x"]}', {"a": [1, -2, 3.5, True, None, "x"]}),
        (b'"\\ud83d\\ude00 and \xf0\x9f\x98\x80"', "\U0001f600 and \U0001f600"),
        (b'"\\\\ud800"', "\\ud800"),  # an escaped backslash, then text: no surrogate
        (b"9223372036854775807", 2**63 - 1),
        (b"-9223372036854775808", -(2**63)),
        (b"1e308", 1e308),
        (b"1e-400", 0.0),
        (nested(MAX_DEPTH), nested_value(MAX_DEPTH)),
    ],
    ids=[
        "plain",
        "surrogate-pairs",
        "escaped-backslash",
        "int64-max",
        "int64-min",
        "large-float",
        "tiny-float",
        "deepest-allowed",
    ],
)
def test_strict_json_takes_real_json(raw: bytes, value: object) -> None:
    assert loads(raw) == value


@pytest.mark.parametrize(
    "raw",
    [
        b"NaN",
        b"[Infinity]",
        b'{"a": -Infinity}',
        b"1e400",
        b'"\\ud800"',
        b'"\\udfff"',
        b'{"\\ud800": 1}',
        b'"\xed\xa0\x80"',
        b"\xff",
        nested(MAX_DEPTH + 1),
        b"[" * 100_000 + b"]" * 100_000,
        b"12345678901234567890",
        b"9" * 5000,
        b"0." + b"1" * 100,
        b"{",
        b"",
    ],
    ids=[
        "nan",
        "infinity",
        "minus-infinity",
        "overflow",
        "high-surrogate",
        "low-surrogate",
        "surrogate-key",
        "surrogate-bytes",
        "not-utf8",
        "too-deep",
        "far-too-deep",
        "20-digits",
        "5000-digits",
        "long-float",
        "truncated",
        "empty",
    ],
)
def test_strict_json_refuses(raw: bytes) -> None:
    with pytest.raises(JSONRejected) as refused:
        loads(raw)
    assert len(str(refused.value)) < 200  # says why, without echoing the input


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("0", 0),
        ("7", 7),
        ("000123", 123),
        ("999999999", 999_999_999),
        ("1234567890", None),
        ("", None),
        ("²", None),
        ("\u0661", None),
        ("\u0663\u0664", None),
        ("1²", None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1 ", None),
        ("1_0", None),
        ("1.0", None),
        ("1\n", None),
    ],
)
def test_whole_numbers_are_ascii_digits(raw: str, value: int | None) -> None:
    assert whole_number(raw) == value


def test_every_body_schema_belongs_to_a_route_and_nothing_else_reads_bodies() -> None:
    app = QuartTrio("routes")
    for surface in SURFACES:
        app.register_blueprint(surface.blueprint)
    rules = {(m, r.rule) for r in app.url_map.iter_rules() for m in r.methods or ()}
    assert body_schemas().routes() <= rules, body_schemas().routes() - rules
    for path in Path(galaxy.http.__file__).parent.glob("*.py"):
        if path.name != "body.py":
            text = path.read_text("utf-8")
            assert not re.search(r"get_json|request\.json|get_data|json\.loads", text), path


PLACEHOLDER = "__hostile__"
INTERNAL = {"error": {"code": "internal", "message": "internal error"}}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    found: Any = backend_spec().document
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return _resolve(found)


def body_operations() -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(operationId, METHOD, path, body schema) for every operation that takes a JSON body."""
    for path, item in backend_spec().document["paths"].items():
        for method in BODY_METHODS:
            operation = item.get(method)
            if operation is None or "requestBody" not in operation:
                continue
            schema = _resolve(operation["requestBody"]["content"]["application/json"]["schema"])
            yield operation["operationId"], method.upper(), path, schema


def concrete(path: str) -> str:
    """A path template with parameters that pass their own checks (so the body is reached)."""
    path = path.replace("{username}", ADMIN[0]).replace("{version}", "0.1.0")
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def headers() -> dict[str, str]:
    token = httpx.BasicAuth(*ADMIN)._auth_header  # the same header httpx would send
    return {
        "X-User-ID": str(uuid.uuid4()),
        "Authorization": token,
        "Content-Type": "application/json",
    }


def with_hostile(member: str, token: bytes) -> bytes:
    """`{"member": <token>}`, written by hand: json.dumps cannot write what we send."""
    return json.dumps({member: PLACEHOLDER}).encode().replace(f'"{PLACEHOLDER}"'.encode(), token)


HOSTILE_VALUES = {
    "nan": b"NaN",
    "infinity": b"Infinity",
    "minus-infinity": b"-Infinity",
    "float-overflowing-to-infinity": b"1e400",
    "lone-high-surrogate": b'"\\ud800"',
    "lone-low-surrogate": b'"a\\udc00b"',
    "surrogate-as-utf8-bytes": b'"\xed\xa0\x80"',
    "nesting-past-the-interpreter": b"[" * 50_000 + b"]" * 50_000,
    "nesting-past-any-body": b"[" * 100 + b"]" * 100,
    "integer-past-4300-digits": b"9" * 5000,
    "integer-past-any-value": b"9" * 40,
    "nan-in-a-list": b'[{"a": [1, NaN]}]',
}


async def send(client: httpx.AsyncClient, method: str, path: str, content: bytes) -> httpx.Response:
    return await client.request(method, concrete(path), content=content, headers=headers())


@pytest.fixture
async def client(running: Running) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=running.http, timeout=30) as found:
        yield found


async def test_hostile_json_is_a_400_invalid_json_on_every_body_operation(
    client: httpx.AsyncClient,
) -> None:
    """Parsed strictly once at the edge, whichever member the value hides in."""
    answers: dict[int, int] = {}
    wrong: list[str] = []
    for operation_id, method, path, schema in body_operations():
        members = list(schema.get("properties", {})) or ["member"]
        for kind, token in HOSTILE_VALUES.items():
            response = await send(client, method, path, with_hostile(members[0], token))
            answers[response.status_code] = answers.get(response.status_code, 0) + 1
            code = response.json().get("error", {}).get("code") if response.content else None
            if response.status_code != 400 or code != "invalid_json":
                wrong.append(f"{operation_id} {kind}: {response.status_code} {code}")
        deep_body = b"[" * 50_000 + b"]" * 50_000  # the whole body, not a member
        response = await send(client, method, path, deep_body)
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        if response.status_code != 400:
            wrong.append(f"{operation_id} deep body: {response.status_code}")
    print(f"answers by status: {answers}")
    assert wrong == [], f"{len(wrong)} wrong answers: {answers}\n" + "\n".join(wrong)


async def test_lone_surrogates_are_refused_in_every_text_member(
    client: httpx.AsyncClient,
) -> None:
    wrong: list[str] = []
    for operation_id, method, path, schema in body_operations():
        for member, definition in schema.get("properties", {}).items():
            if _resolve(definition).get("type") != "string":
                continue
            response = await send(client, method, path, with_hostile(member, b'"ok\\udfffok"'))
            if response.status_code != 400 or response.json()["error"]["code"] != "invalid_json":
                wrong.append(f"{operation_id}.{member}: {response.status_code} {response.text}")
    assert wrong == [], "\n".join(wrong)


WRONG_TYPES = {"list": [], "object": {}, "true": True, "number": 1.5, "null": None}


async def test_a_member_of_the_wrong_type_is_a_400_in_every_body(
    client: httpx.AsyncClient,
) -> None:
    """The body is checked against its schema before any service sees it (`"tier": []`)."""
    wrong: list[str] = []
    for operation_id, method, path, schema in body_operations():
        for member, definition in schema.get("properties", {}).items():
            definition = _resolve(definition)
            for kind, value in WRONG_TYPES.items():
                if _fits(definition, value):
                    continue
                content = json.dumps({member: value}).encode()
                response = await send(client, method, path, content)
                if response.status_code != 400:
                    wrong.append(f"{operation_id}.{member}={kind}: {response.status_code}")
    assert wrong == [], "\n".join(wrong)


def _fits(definition: dict[str, Any], value: Any) -> bool:
    if value is None:
        return bool(definition.get("nullable"))
    kinds = {"array": list, "object": dict, "boolean": bool, "number": float, "string": str}
    wanted = definition.get("type")
    return wanted in kinds and isinstance(value, kinds[wanted])


async def test_entitlement_tier_as_a_list_is_a_400(client: httpx.AsyncClient) -> None:
    content = json.dumps({"tier": []}).encode()
    response = await send(client, "POST", "/api/v1/admin/users/{user_id}/entitlements", content)
    assert_error_body(response, 400, "invalid_tier")


def page_operations() -> Iterator[tuple[str, str]]:
    for path, item in backend_spec().document["paths"].items():
        operation = item.get("get")
        if operation is None:
            continue
        names = [_resolve(p).get("name") for p in operation.get("parameters", [])]
        if "page" in names:
            yield operation["operationId"], path


NOT_ASCII_WHOLE_NUMBERS = [
    "²",
    "\u0661",
    "1²",
    "\u0663\u0664",
    "9" * 5000,
    "1" * 40,
    "+1",
    " 1",
    "1_0",
    "-1",
    "0",
]


@pytest.mark.parametrize("page", NOT_ASCII_WHOLE_NUMBERS)
async def test_page_takes_ascii_digits_only(client: httpx.AsyncClient, page: str) -> None:
    wrong = []
    for operation_id, path in page_operations():
        response = await client.get(concrete(path), params={"page": page}, headers=headers())
        if response.status_code != 400 or response.json()["error"]["code"] != "invalid_page":
            wrong.append(f"{operation_id}: {response.status_code} {response.text[:200]}")
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("turn", ["²", "\u0661", "\u0663", "1²", "9" * 5000, "+1", "-1", "1.0"])
async def test_report_turn_takes_ascii_digits_only(client: httpx.AsyncClient, turn: str) -> None:
    path = f"/api/v1/user/games/{uuid.uuid4()}/reports/{turn}"
    response = await client.get(path, headers=headers())
    assert_error_body(response, 400, "invalid_turn")


# -- crash answers -------------------------------------------------------------------------


def crash_blueprint() -> Blueprint:
    bp = Blueprint("test_crash", __name__)

    @bp.get("/api/v1/public/test/bug")
    async def bug() -> dict[str, Any]:
        raise RuntimeError("secret detail: /var/lib/galaxy password=hunter2")

    @bp.post("/api/v1/public/test/actor-crash")
    async def actor_crash() -> dict[str, Any]:
        raise ActorCrashed("core/runtime.games/game:1234 crashed: ValueError('{\"orders\": 1}')")

    return bp


@pytest.fixture
async def crashing(running: Running, nursery: trio.Nursery) -> AsyncIterator[httpx.AsyncClient]:
    assert running.service.services is not None
    app = create_app(running.service.services, [crash_blueprint()])
    base_url = await serve_on_loopback(nursery, app)
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as found:
        yield found


async def test_a_crash_answers_a_generic_500_and_logs_the_details(
    crashing: httpx.AsyncClient,
) -> None:
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        response = await crashing.get("/api/v1/public/test/bug", headers={"X-Request-ID": "rq-1"})
    assert response.status_code == 500
    assert response.json() == INTERNAL
    assert "secret" not in response.text
    (logged,) = [e for e in logs if e["event"] == "http.crash"]
    assert logged["request_id"] == "rq-1"
    assert "secret detail" in repr(logged["exc_info"])


async def test_an_actor_crash_reveals_neither_the_actor_nor_the_body(
    crashing: httpx.AsyncClient,
) -> None:
    response = await crashing.post("/api/v1/public/test/actor-crash", json={"orders": 1})
    assert response.status_code == 500
    assert response.json() == INTERNAL
    assert "game:" not in response.text and "orders" not in response.text
