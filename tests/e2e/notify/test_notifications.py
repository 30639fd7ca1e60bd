"""Notifications end to end: catalog validation, routes, push and mail delivery, audit."""

from __future__ import annotations

import uuid

import httpx
import pytest

from galaxy.domain.notifications import Intent, Recipient
from galaxy.push.client import decode_payload
from galaxy.services.notifications import Notifier
from galaxy.store.notifications import RouteRow
from tests.support.contract import ContractClient, assert_error_body
from tests.support.gateway import Gateway
from tests.support.mail import eventually, outbox
from tests.support.service import Running, admin_auth
from tests.support.smtp import SmtpSink

USER = str(uuid.uuid4())
EMAIL = "commander@example.org"


def notifier(running: Running) -> Notifier:
    assert running.service.services is not None
    return running.service.services.notifier


def grpc_port(running: Running) -> int:
    return int(running.endpoints.grpc.rsplit(":", 1)[1])


async def routes_settle(running: Running, notification_id: uuid.UUID) -> list[RouteRow]:
    found: list[RouteRow] = []

    async def settled() -> bool:
        nonlocal found
        found = (await notifier(running).notification(notification_id)).routes
        return all(route.status not in ("pending", "retrying") for route in found)

    await eventually(settled)
    return found


async def test_a_push_and_email_kind_reaches_the_gateway_and_the_mailbox(
    mail_service: Running, sink: SmtpSink
) -> None:
    gateway = await Gateway(grpc_port(mail_service), "gw").start()
    intent = Intent(
        "lobby.application.approved",
        "approve:app-1",
        {"game_id": "g-1"},
        (Recipient(USER, EMAIL),),
    )
    notification_id = await notifier(mail_service).submit(intent)
    assert notification_id is not None
    routes = await routes_settle(mail_service, notification_id)
    assert sorted((r.channel, r.status) for r in routes) == [
        ("email", "delivered"),
        ("push", "delivered"),
    ]
    (event,) = await gateway.events(1)
    push_route = next(r for r in routes if r.channel == "push")
    client = event.client_event
    assert client.user_id == USER and client.kind == "lobby.application.approved"
    assert client.event_id == str(push_route.route_id)
    assert client.request_id == "approve:app-1"
    assert decode_payload(client) == {"game_id": "g-1"}
    (message,) = await sink.wait_for(1)
    assert message["To"] == EMAIL and "approved" in message["Subject"]
    email_route = next(r for r in routes if r.channel == "email")
    deliveries = (await outbox(mail_service).deliveries(1)).items
    assert [d.idempotency_key for d in deliveries] == [str(email_route.route_id)]
    await gateway.close()


async def test_submitting_twice_routes_once(mail_service: Running, sink: SmtpSink) -> None:
    intent = Intent(
        "lobby.membership.blocked", "block:1", {"game_id": "g"}, (Recipient(USER, EMAIL),)
    )
    first = await notifier(mail_service).submit(intent)
    again = await notifier(mail_service).submit(intent)
    assert first == again and first is not None
    await routes_settle(mail_service, first)
    page = await notifier(mail_service).notifications(1)
    assert page.total == 1 and len(page.items[0].routes) == 2
    await sink.wait_for(1)
    assert len(sink.messages) == 1


@pytest.mark.parametrize(
    ("intent", "reason"),
    [
        (Intent("no.such.kind", "k", {}, (Recipient(USER),)), "unknown kind"),
        (Intent("game.turn.ready", "k", {"game_id": "g"}, (Recipient(USER),)), "payload.turn"),
        (Intent("game.turn.ready", "k", {"game_id": "g", "turn": "7"}, (Recipient(USER),)), "int"),
        (Intent("game.paused", "k", {"game_id": "g", "turn": 1, "reason": "x"}), "recipient"),
        (
            Intent("game.turn.ready", "", {"game_id": "g", "turn": 1}, (Recipient(USER),)),
            "idempotency",
        ),
        (
            Intent("lobby.invite.revoked", "k", {"game_id": "g", "extra": 1}, (Recipient(USER),)),
            "unexpected",
        ),
        (
            Intent("runtime.container_start_failed", "k", {"game_id": "g"}, (Recipient(USER),)),
            "admin-channel",
        ),
        (
            Intent("lobby.membership.blocked", "k", {"game_id": "g"}, (Recipient(USER, "x\\ny"),)),
            "email",
        ),
    ],
)
async def test_a_malformed_intent_is_recorded_and_never_raises(
    mail_service: Running, intent: Intent, reason: str
) -> None:
    assert await notifier(mail_service).submit(intent) is None
    malformed = (await notifier(mail_service).malformed(1)).items
    assert len(malformed) == 1 and reason in malformed[0].reason
    assert (await notifier(mail_service).notifications(1)).total == 0


@pytest.mark.parametrize(
    "mail_service", [{"BACKEND_NOTIFICATION_ADMIN_EMAIL": "ops@example.org"}], indirect=True
)
async def test_admin_kinds_mail_the_admin_address(mail_service: Running, sink: SmtpSink) -> None:
    intent = Intent(
        "runtime.start_config_invalid", "start:g", {"game_id": "g", "reason": "no races"}
    )
    notification_id = await notifier(mail_service).submit(intent)
    assert notification_id is not None
    (route,) = await routes_settle(mail_service, notification_id)
    assert (route.channel, route.status) == ("admin_email", "delivered")
    (message,) = await sink.wait_for(1)
    assert message["To"] == "ops@example.org" and "no races" in message.get_payload()


async def test_admin_kinds_without_an_admin_address_are_skipped_not_lost(
    mail_service: Running,
) -> None:
    intent = Intent("runtime.container_start_failed", "start:g", {"game_id": "g"})
    notification_id = await notifier(mail_service).submit(intent)
    assert notification_id is not None
    (route,) = (await notifier(mail_service).notification(notification_id)).routes
    assert route.status == "skipped" and route.skip_reason is not None
    assert "BACKEND_NOTIFICATION_ADMIN_EMAIL" in route.skip_reason


async def test_an_email_route_without_an_address_is_skipped(mail_service: Running) -> None:
    intent = Intent("lobby.application.rejected", "reject:1", {"game_id": "g"}, (Recipient(USER),))
    notification_id = await notifier(mail_service).submit(intent)
    assert notification_id is not None
    routes = await routes_settle(mail_service, notification_id)
    assert sorted((r.channel, r.status) for r in routes) == [
        ("email", "skipped"),
        ("push", "delivered"),
    ]


async def test_a_route_that_keeps_failing_is_dead_lettered(mail_service: Running) -> None:
    # The catalog takes any int for `turn`; the push schema's int64 cannot hold this one.
    intent = Intent(
        "game.turn.ready", "turn:huge", {"game_id": "g", "turn": 2**70}, (Recipient(USER),)
    )
    notification_id = await notifier(mail_service).submit(intent)
    assert notification_id is not None
    (route,) = await routes_settle(mail_service, notification_id)
    assert route.status == "dead_lettered" and route.attempts == 2
    (letter,) = (await notifier(mail_service).dead_letters(1)).items
    assert letter.route_id == route.route_id and letter.channel == "push"


async def test_a_deleted_users_pending_routes_are_skipped_and_kept(mail_service: Running) -> None:
    await mail_service.service.system.stop("core", "notify.router")  # hold routes pending
    intent = Intent(
        "game.turn.ready", "turn-ready:g:3", {"game_id": "g", "turn": 3}, (Recipient(USER),)
    )
    notification_id = await notifier(mail_service).submit(intent)
    assert notification_id is not None
    assert await notifier(mail_service).on_user_deleted(uuid.UUID(USER)) == 1
    (route,) = (await notifier(mail_service).notification(notification_id)).routes
    assert (route.status, route.skip_reason) == ("skipped", "user_deleted")


async def test_admin_notification_endpoints(mail_service: Running) -> None:
    good = await notifier(mail_service).submit(
        Intent("game.turn.ready", "turn:g:1", {"game_id": "g", "turn": 1}, (Recipient(USER),))
    )
    await notifier(mail_service).submit(Intent("bogus", "k", {}))
    dead = await notifier(mail_service).submit(
        Intent("game.turn.ready", "turn:huge", {"game_id": "g", "turn": 2**70}, (Recipient(USER),))
    )
    assert good is not None and dead is not None
    await routes_settle(mail_service, dead)
    async with httpx.AsyncClient(base_url=mail_service.http, auth=admin_auth()) as client:
        await exercise_admin_notifications(ContractClient(client), good)


async def exercise_admin_notifications(http: ContractClient, notification_id: uuid.UUID) -> None:
    listing = (await http.get("/api/v1/admin/notifications")).json()
    assert str(notification_id) in {item["notification_id"] for item in listing["items"]}
    one = (await http.get(f"/api/v1/admin/notifications/{notification_id}")).json()
    assert one["kind"] == "game.turn.ready" and one["routes"][0]["channel"] == "push"
    letters = (await http.get("/api/v1/admin/notifications/dead-letters")).json()
    assert letters["total"] >= 1
    malformed = (await http.get("/api/v1/admin/notifications/malformed")).json()
    assert malformed["total"] >= 1 and "unknown kind" in malformed["items"][0]["reason"]
    routes = (await http.get("/api/v1/admin/notifications/routes")).json()["routes"]
    counted = {(r["kind"], r["channel"], r["status"]): r["count"] for r in routes}
    assert counted[("game.turn.ready", "push", "dead_lettered")] == letters["total"]
    assert sum(counted.values()) == sum(len(n["routes"]) for n in listing["items"])
    assert_error_body(await http.get(f"/api/v1/admin/notifications/{uuid.uuid4()}"), 404)
    assert_error_body(await http.get("/api/v1/admin/notifications/nope"), 400, "invalid_id")
    assert_error_body(await http.get("/api/v1/admin/notifications?page=-1"), 400, "invalid_page")


@pytest.mark.parametrize(
    "mail_service", [{"BACKEND_OTEL_METRICS_EXPORTER": "prometheus"}], indirect=True
)
async def test_mail_and_notification_metrics(mail_service: Running, sink: SmtpSink) -> None:
    intent = Intent(
        "lobby.application.approved", "approve:m", {"game_id": "g"}, (Recipient(USER, EMAIL),)
    )
    notification_id = await notifier(mail_service).submit(intent)
    assert notification_id is not None
    await notifier(mail_service).submit(Intent("bogus", "k", {}))
    await routes_settle(mail_service, notification_id)
    await sink.wait_for(1)

    async def recorded() -> bool:  # the sink has the mail before the worker records it
        return [d.status for d in (await outbox(mail_service).deliveries(1)).items] == ["sent"]

    await eventually(recorded)
    await outbox(mail_service).refresh_depth()  # what the workers' timer does
    assert mail_service.endpoints.metrics is not None
    async with httpx.AsyncClient() as client:
        scraped = (await client.get(mail_service.endpoints.metrics)).text
    accepted = {"kind": "lobby.application.approved", "outcome": "accepted"}
    assert sample(scraped, "notification_intents_total", **accepted) == 1
    assert sample(scraped, "notification_intents_total", kind="unknown", outcome="malformed") == 1
    assert sample(scraped, "notification_routes_total", channel="email") == 1
    assert sample(scraped, "notification_routes_total", channel="push") == 1
    assert sample(scraped, "mail_attempts_total", outcome="sent") == 1
    assert sample(scraped, "mail_outbox_depth", state="sent") == 1


def sample(scraped: str, name: str, **labels: str) -> float:
    """The value of the series `name` carrying `labels` (0 when there is none)."""
    for line in scraped.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
