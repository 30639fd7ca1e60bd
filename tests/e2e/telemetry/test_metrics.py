"""Every metric of seeds/backend-README.md §15, found in a Prometheus scrape of a live service."""

from __future__ import annotations

import contextlib

import httpx
import pytest
import trio

from galaxy.domain.notifications import Intent, Recipient
from galaxy.services.push import typed_event
from tests.e2e.runtime.test_lifecycle import started_game
from tests.support.contract import ContractClient
from tests.support.mail import eventually
from tests.support.players import login
from tests.support.service import Running

REQUIRED = [
    "http_requests_total",
    "http_request_duration_seconds",
    "grpc_push_subscribers",
    "grpc_push_events_total",
    "grpc_push_dropped_total",
    "mail_outbox_depth",
    "mail_attempts_total",
    "mail_dead_letters_total",
    "notification_intents_total",
    "notification_routes_total",
    "runtime_container_ops_total",
    "runtime_health_probes_total",
    "geo_lookups_total",
    "db_pool_acquires_total",
    "db_pool_in_use",
    "db_pool_waits_total",
]


@pytest.mark.parametrize(
    "running",
    [{"BACKEND_OTEL_METRICS_EXPORTER": "prometheus", "BACKEND_RUNTIME_PROBE_INTERVAL": "100ms"}],
    indirect=True,
)
async def test_every_required_metric_is_exported(running: Running, http: ContractClient) -> None:
    services = running.service.services
    assert services is not None
    player = await login(http, running, "metrics@example.org")  # HTTP, mail, geo
    await http.get("/api/v1/user/account", headers=player.headers)
    services.push.publish_client_event(
        player.user_id, None, typed_event("game.turn.ready", {"game_id": "g", "turn": 1})
    )
    await services.notifier.submit(
        Intent(
            "game.turn.ready",
            "metrics:1",
            {"game_id": "g", "turn": 1},
            (Recipient(player.user_id),),
        )
    )
    await started_game(running, http)  # runtime operations, then probes every 100 ms
    assert running.endpoints.metrics is not None
    missing: list[str] = []

    async def all_exported() -> bool:
        assert running.endpoints.metrics is not None
        async with httpx.AsyncClient(timeout=10) as client:
            scraped = (await client.get(running.endpoints.metrics)).text
        names = {
            line.split("{")[0].split(" ")[0]
            for line in scraped.splitlines()
            if line and not line.startswith("#")
        }
        missing[:] = [
            name
            for name in REQUIRED
            if not any(found == name or found.startswith(f"{name}_") for found in names)
        ]
        return not missing

    with contextlib.suppress(trio.TooSlowError):
        await eventually(all_exported, timeout=20)
    assert missing == []


@pytest.mark.parametrize(
    "running", [{"BACKEND_OTEL_METRICS_EXPORTER": "prometheus"}], indirect=True
)
async def test_made_up_methods_and_paths_make_no_new_series(
    running: Running, http: ContractClient
) -> None:
    assert running.endpoints.metrics is not None
    async with httpx.AsyncClient(base_url=running.http, timeout=10) as client:
        for n in range(40):
            await client.request(f"BREW{n}", f"/api/v1/public/teapot/{n}")
            await client.get(f"/nowhere/{n}")
        scraped = (await client.get(running.endpoints.metrics)).text
    counts = [line for line in scraped.splitlines() if line.startswith("http_requests_total{")]
    assert not any("BREW" in line or "/nowhere/" in line for line in counts)
    assert any('method="other"' in line and 'path="unmatched"' in line for line in counts)
    # Forty requests of each kind, one series each.
    assert len([line for line in counts if 'path="unmatched"' in line]) <= 4
