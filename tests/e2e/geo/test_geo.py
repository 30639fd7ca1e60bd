"""Geo signals: the declared country, batched counters, the cascade and the operators' view."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from galaxy.config import load_config
from tests.support.contract import ContractClient, assert_error_body
from tests.support.geo import BRITAIN, SWEDEN, country_database
from tests.support.mail import eventually
from tests.support.players import (
    confirm,
    mailed_code,
    request_code,
    sign_up,
    sql,
)
from tests.support.service import Running, admin_auth, service_environ, start_service


@pytest.fixture
async def geo_service(
    db_dsn: str, tmp_path: Path, nursery: trio.Nursery
) -> AsyncIterator[tuple[Running, ContractClient]]:
    database = country_database(tmp_path / "countries.mmdb")
    environ = service_environ(
        db_dsn,
        tmp_path,
        BACKEND_GEOIP_DB_PATH=str(database),
        BACKEND_OTEL_METRICS_EXPORTER="prometheus",
    )
    running = await start_service(nursery, load_config(environ))
    async with httpx.AsyncClient(base_url=running.http, timeout=30) as client:
        yield running, ContractClient(client)
    running.service.stop()


async def test_the_declared_country_is_set_once_at_registration(
    geo_service: tuple[Running, ContractClient],
) -> None:
    running, http = geo_service
    user, _ = await sign_up(http, running, "brit@example.org", BRITAIN)
    account = await http.get("/api/v1/user/account", headers={"X-User-ID": user})
    assert account.json()["declared_country"] == "GB"
    # A later login from elsewhere does not change it.
    challenge_id = await request_code(http, "brit@example.org")
    code = await mailed_code(running, "brit@example.org", 2)
    assert (await confirm(http, challenge_id, code)).status_code == 200
    assert (await http.get("/api/v1/user/account", headers={"X-User-ID": user})).json()[
        "declared_country"
    ] == "GB"
    unknown, _ = await sign_up(http, running, "nowhere@example.org", "10.1.2.3")
    account = await http.get("/api/v1/user/account", headers={"X-User-ID": unknown})
    assert account.json()["declared_country"] is None  # private address: no country, no error


async def test_requests_are_counted_in_batches_and_shown_to_operators(
    geo_service: tuple[Running, ContractClient],
) -> None:
    running, http = geo_service
    user, _ = await sign_up(http, running, "traveller@example.org", BRITAIN)
    geo = running.service.services.geo  # type: ignore[union-attr]
    flushes = geo.flushes

    async def read(ip: str) -> None:
        headers = {"X-User-ID": user, "X-Forwarded-For": ip}
        assert (await http.get("/api/v1/user/account", headers=headers)).status_code == 200

    async with trio.open_nursery() as nursery:
        for n in range(60):
            nursery.start_soon(read, BRITAIN if n % 3 else SWEDEN)
    refused = await http.get("/api/v1/user/account", headers={"X-User-ID": str(uuid.uuid4())})
    assert refused.status_code == 404  # failed calls are not counted (and no such user)
    url = f"/api/v1/admin/geo/users/{user}/countries"

    async def counted() -> bool:
        items = (await http.get(url, auth=admin_auth())).json()["items"]
        return sum(item["count"] for item in items) == 60

    await eventually(counted)
    items = (await http.get(url, auth=admin_auth())).json()["items"]
    assert [(i["country"], i["count"]) for i in items] == [("GB", 40), ("SE", 20)]
    assert geo.flushes - flushes <= 5  # sixty requests, a handful of writes
    assert_error_body(
        await http.get("/api/v1/admin/geo/users/nope/countries", auth=admin_auth()), 400
    )

    await http.post("/api/v1/user/account/delete", headers={"X-User-ID": user})
    assert sql(running, "SELECT count(*) FROM user_country_counters") == [(0,)]

    assert running.endpoints.metrics is not None
    async with httpx.AsyncClient(timeout=10) as client:
        scraped = (await client.get(running.endpoints.metrics)).text
    found = [line for line in scraped.splitlines() if line.startswith("geo_lookups_total{")]
    assert any('outcome="found"' in line for line in found), found
