"""The edge lane (http/lane.py) answers its routes as Quart answered them.

`GET /api/v1/user/account` and `GET /api/v1/user/games/{id}/reports/{turn}`
are served below Quart. Every answer here is the one Quart gave before the
lane (status, error code, headers; this file passed unchanged against the
Quart views): the gateway's credential, the strict X-User-ID, the views' own
checks, HEAD, other methods (405 from Quart's routing), unknown paths under
the prefix, and the geo request count after a success.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest
import structlog
import trio

from galaxy.actors.errors import ActorBusy, ActorCrashed
from galaxy.config import load_config
from galaxy.domain.errors import TooManyRequests
from galaxy.http.app import create_app
from galaxy.http.lane import LaneRoute
from galaxy.services.container import Services
from tests.e2e.runtime.test_lifecycle import started_game
from tests.support.asgi import serve_on_loopback
from tests.support.contract import ContractClient, assert_error_body
from tests.support.geo import BRITAIN, country_database
from tests.support.lobby import make_user
from tests.support.mail import eventually
from tests.support.service import Running, admin_auth, service_environ, start_service

TOKEN = "gateway-token-for-the-lane-0123456789"
GATEWAY = {"Authorization": f"Bearer {TOKEN}"}
ACCOUNT = "/api/v1/user/account"


class Lane:
    def __init__(self, running: Running, gateway: httpx.AsyncClient, bare: httpx.AsyncClient):
        self.running = running
        self.gateway = gateway  # sends the gateway's token with every request
        self.bare = bare  # sends nothing it is not told to


@pytest.fixture
async def lane(db_dsn: str, tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Lane]:
    environ = service_environ(
        db_dsn,
        tmp_path,
        BACKEND_GATEWAY_TOKEN=TOKEN,
        BACKEND_GEOIP_DB_PATH=str(country_database(tmp_path / "countries.mmdb")),
        BACKEND_OTEL_METRICS_EXPORTER="prometheus",
    )
    running = await start_service(nursery, load_config(environ))
    async with (
        httpx.AsyncClient(base_url=running.http, timeout=30, headers=GATEWAY) as gateway,
        httpx.AsyncClient(base_url=running.http, timeout=30) as bare,
    ):
        yield Lane(running, gateway, bare)
    running.service.stop()


def as_user(user_id: str, **extra: str) -> dict[str, str]:
    return {"X-User-ID": user_id, **extra}


async def check_error(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    """GET answers the error body; HEAD the same status and headers, without the body."""
    got = await client.get(path, headers=headers)
    assert_error_body(got, status, code)
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-request-id"]
    head = await client.head(path, headers=headers)
    assert head.status_code == status
    assert head.content == b""
    assert head.headers["content-type"] == "application/json"
    assert head.headers["content-length"] == got.headers["content-length"]


async def check_guards(lane: Lane, path: str, user_id: str) -> None:
    """The user surface's guards, in Quart's order: the gateway's token, then X-User-ID."""
    for strangers in (
        {},
        {"Authorization": "Bearer not-the-token-but-long-enough-0123"},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        for headers in (strangers, {**strangers, "X-User-ID": user_id}):
            await check_error(lane.bare, path, headers, 401, "gateway_unauthorized")
        # A bad X-User-ID does not tell a stranger more: the token is checked first.
        await check_error(
            lane.bare, path, {**strangers, "X-User-ID": "nope"}, 401, "gateway_unauthorized"
        )
    await check_error(lane.gateway, path, {}, 400, "missing_user_id")
    for bad in ("nope", f"urn:uuid:{user_id}", user_id.replace("-", ""), f"{{{user_id}}}", ""):
        await check_error(lane.gateway, path, as_user(bad), 400, "invalid_user_id")
    # Other methods go on to Quart: guarded the same, then 405 with Allow.
    assert_error_body(await lane.bare.post(path, headers=as_user(user_id)), 401)
    refused = await lane.gateway.post(path, headers=as_user(user_id))
    assert_error_body(refused, 405, "method_not_allowed")
    assert refused.headers["allow"] == "GET, HEAD"
    deleted = await lane.gateway.delete(path, headers=as_user(user_id))
    assert_error_body(deleted, 405, "method_not_allowed")


async def check_success(lane: Lane, path: str, user_id: str) -> httpx.Response:
    got = await lane.gateway.get(path, headers=as_user(user_id, **{"X-Request-ID": "lane-1"}))
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-request-id"] == "lane-1"
    assert int(got.headers["content-length"]) == len(got.content)
    head = await lane.gateway.head(path, headers=as_user(user_id))
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]
    assert head.headers["content-type"] == "application/json"
    return got


async def test_the_account_answers_as_through_quart(lane: Lane) -> None:
    http = ContractClient(lane.gateway)  # validates every answer against openapi.yaml
    anne = await make_user(lane.running, http, "anne@example.org")
    got = await check_success(lane, ACCOUNT, anne.user_id)
    assert got.json()["user_id"] == anne.user_id
    # Quart's JSON: sorted keys, ASCII, compact, a final newline.
    assert got.content.endswith(b"}\n")
    assert got.content.startswith(b'{"created_at":')
    checked = await http.get(ACCOUNT, headers=anne.headers)
    assert checked.status_code == 200
    await check_guards(lane, ACCOUNT, anne.user_id)
    await check_error(lane.gateway, ACCOUNT, as_user(str(uuid.uuid4())), 404, "account_not_found")
    for wrong in (f"{ACCOUNT}/", f"{ACCOUNT}x", "/api/v1/user/nowhere"):
        await check_error(lane.gateway, wrong, as_user(anne.user_id), 404, "not_found")
    await check_error(lane.gateway, "/api/v1/user/nowhere", {}, 400, "missing_user_id")

    # A blocked account still reads its own account, sanction included.
    bob = await make_user(lane.running, http, "bob@example.org")
    blocked = await lane.gateway.post(
        f"/api/v1/admin/users/{bob.user_id}/sanctions",
        json={"kind": "permanent_block", "reason": "cheating"},
        auth=admin_auth(),
    )
    assert blocked.status_code == 200, blocked.text
    seen = await lane.gateway.get(ACCOUNT, headers=bob.headers)
    assert seen.status_code == 200
    assert [s["kind"] for s in seen.json()["sanctions"]] == ["permanent_block"]
    # A deleted one is gone.
    gone = await lane.gateway.post(f"{ACCOUNT}/delete", headers=anne.headers)
    assert gone.status_code == 200, gone.text
    await check_error(lane.gateway, ACCOUNT, anne.headers, 404, "account_not_found")


async def test_a_report_answers_as_through_quart(lane: Lane) -> None:
    http = ContractClient(lane.gateway)
    _, (vogon, _), gid = await started_game(lane.running, http)
    stranger = await make_user(lane.running, http, "stranger@example.org")
    reports = f"/api/v1/user/games/{gid}/reports"
    latest = await check_success(lane, f"{reports}/latest", vogon.user_id)
    turn = latest.json()["turn"]
    numbered = await check_success(lane, f"{reports}/{turn}", vogon.user_id)
    assert numbered.content == latest.content
    assert (await http.get(f"{reports}/latest", headers=vogon.headers)).status_code == 200
    for path in (f"{reports}/latest", f"{reports}/0"):
        await check_guards(lane, path, vogon.user_id)

    me = vogon.headers
    await check_error(lane.gateway, f"{reports}/latest", stranger.headers, 403, "not_a_member")
    unknown = f"/api/v1/user/games/{uuid.uuid4()}/reports/latest"
    await check_error(lane.gateway, unknown, me, 404, "game_not_found")
    for bad in ("soon", "-1", "1.0", "\N{FULLWIDTH DIGIT ONE}", "\N{SUPERSCRIPT TWO}", "latest2"):
        await check_error(lane.gateway, f"{reports}/{bad}", me, 400, "invalid_turn")
    # The turn is checked before the game id.
    await check_error(lane.gateway, "/api/v1/user/games/nope/reports/soon", me, 400, "invalid_turn")
    await check_error(lane.gateway, "/api/v1/user/games/nope/reports/1", me, 400, "invalid_id")
    upper = f"/api/v1/user/games/{gid.upper()}/reports/latest"
    assert (await lane.gateway.get(upper, headers=me)).status_code == 200
    # Past the newest turn of a running game: the engine's own refusal, passed through.
    await check_error(lane.gateway, f"{reports}/99", me, 404, "engine_rejected")
    for wrong in (f"{reports}/", f"{reports}/latest/", f"{reports}/1/x", f"{reports}"):
        await check_error(lane.gateway, wrong, me, 404, "not_found")
    await check_error(lane.gateway, "/api/v1/user/games//reports/latest", me, 404, "not_found")


async def test_successes_are_counted_by_country_and_metered_by_route(lane: Lane) -> None:
    http = ContractClient(lane.gateway)
    _, (vogon, _), gid = await started_game(lane.running, http)
    from_britain = as_user(vogon.user_id, **{"X-Forwarded-For": f"{BRITAIN}, 10.0.0.1"})
    latest = f"/api/v1/user/games/{gid}/reports/latest"
    for path in (ACCOUNT, latest):
        assert (await lane.gateway.get(path, headers=from_britain)).status_code == 200
        assert (await lane.gateway.head(path, headers=from_britain)).status_code == 200
    # Failures are not counted, however British.
    missing = f"/api/v1/user/games/{gid}/reports/99"
    assert (await lane.gateway.get(missing, headers=from_britain)).status_code == 404
    url = f"/api/v1/admin/geo/users/{vogon.user_id}/countries"

    async def counted() -> list[tuple[str, int]]:
        items = (await lane.gateway.get(url, auth=admin_auth())).json()["items"]
        return [(item["country"], item["count"]) for item in items]

    async def four() -> bool:
        return sum(count for _, count in await counted()) >= 4

    await eventually(four)
    assert await counted() == [("GB", 4)]

    assert lane.running.endpoints.metrics is not None
    scraped = (await lane.bare.get(lane.running.endpoints.metrics)).text
    series = [line for line in scraped.splitlines() if line.startswith("http_requests_total{")]
    for route in (ACCOUNT, "/api/v1/user/games/<game_id>/reports/<turn>"):
        ok = [line for line in series if f'path="{route}"' in line and 'status="200"' in line]
        assert ok, (route, series)
    assert any(
        'path="/api/v1/user/games/<game_id>/reports/<turn>"' in line and 'status="404"' in line
        for line in series
    )
    assert not any(f'path="{latest}"' in line for line in series)  # the template, never the path


# -- what no production route raises today: the one error mapping, and a crash -----------


async def _crash(services: Services, user_id: uuid.UUID, params: Sequence[str]) -> bytes:
    raise RuntimeError("secret detail: /var/lib/galaxy password=hunter2")


async def _busy(services: Services, user_id: uuid.UUID, params: Sequence[str]) -> bytes:
    raise ActorBusy("core/runtime.games/game:1234 is busy")


async def _throttled(services: Services, user_id: uuid.UUID, params: Sequence[str]) -> bytes:
    raise TooManyRequests("slow down", retry_after=1.2)


async def _actor_crash(services: Services, user_id: uuid.UUID, params: Sequence[str]) -> bytes:
    raise ActorCrashed("core/runtime.games/game:1234 crashed: ValueError('{\"orders\": 1}')")


TEST_ROUTES = (
    LaneRoute("/api/v1/user/test/crash", _crash),
    LaneRoute("/api/v1/user/test/busy", _busy),
    LaneRoute("/api/v1/user/test/throttled/<n>", _throttled),
    LaneRoute("/api/v1/user/test/actor-crash", _actor_crash),
)


@pytest.fixture
async def with_test_routes(
    running: Running, nursery: trio.Nursery
) -> AsyncIterator[httpx.AsyncClient]:
    assert running.service.services is not None
    app = create_app(running.service.services, extra_lane_routes=TEST_ROUTES)
    base_url = await serve_on_loopback(nursery, app)
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as found:
        yield found


async def test_errors_map_as_in_quart_and_a_crash_is_a_logged_generic_500(
    with_test_routes: httpx.AsyncClient,
) -> None:
    http = with_test_routes
    me = as_user(str(uuid.uuid4()), **{"X-Request-ID": "rq-lane"})
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as logs:
        crashed = await http.get("/api/v1/user/test/crash", headers=me)
    assert crashed.status_code == 500
    assert crashed.json() == {"error": {"code": "internal", "message": "internal error"}}
    assert "secret" not in crashed.text
    assert crashed.headers["x-request-id"] == "rq-lane"
    (logged,) = [e for e in logs if e["event"] == "http.crash"]
    assert logged["request_id"] == "rq-lane"
    assert "secret detail" in repr(logged["exc_info"])

    actor = await http.get("/api/v1/user/test/actor-crash", headers=me)
    assert actor.status_code == 500
    assert "game:" not in actor.text and "orders" not in actor.text
    # The kernel's failures take the service's statuses (KERNEL_ERRORS), as through Quart.
    assert_error_body(await http.get("/api/v1/user/test/busy", headers=me), 503, "busy")
    throttled = await http.get("/api/v1/user/test/throttled/1", headers=me)
    assert_error_body(throttled, 429, "too_many_requests")
    assert throttled.headers["retry-after"] == "2"
    # The route's rule is Quart's too: other methods are refused by its routing.
    refused = await http.put("/api/v1/user/test/throttled/1", headers=me)
    assert_error_body(refused, 405, "method_not_allowed")
    assert refused.headers["allow"] == "GET, HEAD"
