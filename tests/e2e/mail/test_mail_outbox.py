"""The mail outbox against a real SMTP sink: delivery, retries, dead letters, resend, leases."""

from __future__ import annotations

import uuid

import httpx
import pytest

from galaxy.actors.worker import Wake
from galaxy.domain.errors import Conflict, InvalidInput, NotFound
from galaxy.store.database import Connection
from tests.support.contract import ContractClient, assert_error_body
from tests.support.mail import eventually, outbox
from tests.support.service import Running, admin_auth
from tests.support.smtp import SmtpSink

ADDRESS = "player@example.org"


async def status_is(running: Running, delivery_id: uuid.UUID, status: str) -> None:
    async def check() -> bool:
        return (await outbox(running).delivery(delivery_id)).status == status

    await eventually(check)


async def test_a_login_code_is_delivered_once_with_a_stable_message_id(
    mail_service: Running, sink: SmtpSink
) -> None:
    delivery_id = await outbox(mail_service).enqueue_login_code(ADDRESS, "493817", 600)
    (message,) = await sink.wait_for(1)
    await status_is(mail_service, delivery_id, "sent")
    delivery = await outbox(mail_service).delivery(delivery_id)
    assert message["Message-ID"] == delivery.message_id
    assert message["To"] == ADDRESS and message["From"] == "galaxy@test.example"
    assert "493817" in message["Subject"] and "10 minutes" in message.get_payload()
    assert delivery.attempts == 1 and delivery.recipients == [ADDRESS]
    (attempt,) = await outbox(mail_service).attempts(delivery_id)
    assert (attempt.attempt_no, attempt.outcome, attempt.error) == (1, "sent", None)


async def test_enqueue_is_idempotent_per_template_and_key(
    mail_service: Running, sink: SmtpSink
) -> None:
    payload = {"game_id": "g-1"}
    first = await outbox(mail_service).enqueue_template(
        "lobby.application.approved", [ADDRESS], payload, "route-1"
    )
    again = await outbox(mail_service).enqueue_template(
        "lobby.application.approved", [ADDRESS], payload, "route-1"
    )
    assert first == again
    await status_is(mail_service, first, "sent")
    page = await outbox(mail_service).deliveries(1)
    assert page.total == 1
    assert len(sink.messages) == 1


async def test_bad_enqueues_are_refused_before_anything_is_written(mail_service: Running) -> None:
    mail = outbox(mail_service)
    with pytest.raises(InvalidInput, match="unknown mail template"):
        await mail.enqueue_template("no.such.template", [ADDRESS], {}, "k")
    with pytest.raises(InvalidInput, match="recipient"):
        await mail.enqueue_template("lobby.membership.blocked", [], {"game_id": "g"}, "k")
    with pytest.raises(InvalidInput, match="needs game_id"):
        await mail.enqueue_template("lobby.application.approved", [ADDRESS], {}, "k")
    assert (await mail.deliveries(1)).total == 0


async def test_an_enqueue_in_the_callers_transaction_rolls_back_with_it(
    mail_service: Running,
) -> None:
    mail = outbox(mail_service)
    assert mail_service.service.services is not None
    db = mail_service.service.services.db

    async def enqueue_then_fail(conn: Connection) -> None:
        await mail.enqueue_login_code(ADDRESS, "111111", 600, conn=conn)
        raise RuntimeError("the challenge insert failed")

    with pytest.raises(RuntimeError):
        await db.run(enqueue_then_fail)
    assert (await mail.deliveries(1)).total == 0


async def test_retries_while_the_relay_refuses_then_delivers(
    mail_service: Running, sink: SmtpSink
) -> None:
    sink.refuse(2)
    delivery_id = await outbox(mail_service).enqueue_login_code(ADDRESS, "222222", 600)
    await sink.wait_for(1)
    await status_is(mail_service, delivery_id, "sent")
    attempts = await outbox(mail_service).attempts(delivery_id)
    assert [(a.attempt_no, a.outcome) for a in attempts] == [
        (1, "failed"),
        (2, "failed"),
        (3, "sent"),
    ]
    assert "451" in (attempts[0].error or "")


async def test_dead_letter_then_resend_keeps_attempt_numbers_monotonic(
    mail_service: Running, sink: SmtpSink
) -> None:
    mail = outbox(mail_service)
    sink.refuse(-1)
    delivery_id = await mail.enqueue_login_code(ADDRESS, "333333", 600)
    await status_is(mail_service, delivery_id, "dead_lettered")
    dead = await mail.dead_letters(1)
    assert [row.delivery_id for row in dead.items] == [delivery_id]
    assert "451" in dead.items[0].reason

    sink.refuse(0)
    rearmed = await mail.resend(delivery_id)
    assert rearmed.status == "pending" and rearmed.cycle_attempts == 0
    await status_is(mail_service, delivery_id, "sent")
    attempts = await mail.attempts(delivery_id)
    assert [a.attempt_no for a in attempts] == [1, 2, 3, 4]
    assert attempts[-1].outcome == "sent"
    assert (await mail.dead_letters(1)).total == 0
    (message,) = await sink.wait_for(1)
    assert message["Message-ID"] == (await mail.delivery(delivery_id)).message_id
    with pytest.raises(Conflict):
        await mail.resend(delivery_id)  # never twice once it left the relay
    with pytest.raises(NotFound):
        await mail.resend(uuid.uuid4())


async def test_a_render_failure_fails_that_delivery_only(
    mail_service: Running, sink: SmtpSink
) -> None:
    assert mail_service.service.services is not None
    db = mail_service.service.services.db
    mail = outbox(mail_service)
    broken = await mail.enqueue_template(
        "lobby.application.approved", [ADDRESS], {"game_id": "g"}, "broken"
    )
    await status_is(mail_service, broken, "sent")

    async def corrupt_and_rearm(conn: Connection) -> None:
        # A payload that no longer fits its template (a template changed under it).
        await conn.execute(
            "UPDATE mail_payloads SET body = '{}' WHERE payload_id ="
            " (SELECT payload_id FROM mail_deliveries WHERE delivery_id = %s)",
            (broken,),
        )
        await conn.execute(
            "UPDATE mail_deliveries SET status = 'pending' WHERE delivery_id = %s", (broken,)
        )

    await db.run(corrupt_and_rearm)
    mail.notify()
    await status_is(mail_service, broken, "dead_lettered")
    (attempt,) = [a for a in await mail.attempts(broken) if a.outcome != "sent"]
    assert attempt.outcome == "render_failed" and "game_id" in (attempt.error or "")
    fine = await mail.enqueue_login_code(ADDRESS, "444444", 600)  # the worker carries on
    await status_is(mail_service, fine, "sent")


async def test_a_lapsed_lease_is_taken_over_and_a_live_one_is_not(
    mail_service: Running, sink: SmtpSink
) -> None:
    assert mail_service.service.services is not None
    db = mail_service.service.services.db
    mail = outbox(mail_service)

    async def hold(conn: Connection, delivery_id: uuid.UUID, seconds: int) -> None:
        await conn.execute(
            "UPDATE mail_deliveries SET locked_by = 'a-dead-process',"
            " lease_until = now() + make_interval(secs => %s) WHERE delivery_id = %s",
            (seconds, delivery_id),
        )

    async def enqueue_held(key: str, seconds: int) -> uuid.UUID:
        async def write(conn: Connection) -> uuid.UUID:
            delivery_id = await mail.enqueue_template(
                "lobby.membership.blocked", [ADDRESS], {"game_id": "g"}, key, conn=conn
            )
            await hold(conn, delivery_id, seconds)
            return delivery_id

        return await db.run(write)

    lapsed = await enqueue_held("lapsed", -1)
    live = await enqueue_held("live", 3600)
    mail.notify()
    await status_is(mail_service, lapsed, "sent")
    # A whole scan by a worker leaves the row with a live lease alone.
    await mail_service.service.system.lookup("mail.worker.0").ask(Wake())
    assert (await mail.delivery(live)).status == "pending"
    assert len(sink.messages) == 1


async def test_admin_mail_endpoints(mail_service: Running, sink: SmtpSink) -> None:
    mail = outbox(mail_service)
    sent = await mail.enqueue_login_code(ADDRESS, "555555", 600)
    await status_is(mail_service, sent, "sent")
    sink.refuse(-1)
    dead = await mail.enqueue_login_code(ADDRESS, "666666", 600)
    await status_is(mail_service, dead, "dead_lettered")
    sink.refuse(0)
    async with httpx.AsyncClient(base_url=mail_service.http, auth=admin_auth()) as client:
        http = ContractClient(client)
        await exercise_admin_mail(http, sent, dead)


async def sent_and_dead_letter(running: Running) -> tuple[uuid.UUID, uuid.UUID]:
    """One sent delivery and one dead-lettered (its payload no longer renders)."""
    mail = outbox(running)
    assert running.service.services is not None
    sent = await mail.enqueue_login_code(ADDRESS, "777777", 600)
    await status_is(running, sent, "sent")

    async def enqueue_unrenderable(conn: Connection) -> uuid.UUID:
        delivery_id = await mail.enqueue_template(
            "lobby.membership.blocked", [ADDRESS], {"game_id": "g"}, "unrenderable", conn=conn
        )
        await conn.execute(
            "UPDATE mail_payloads SET body = '{}' WHERE payload_id ="
            " (SELECT payload_id FROM mail_deliveries WHERE delivery_id = %s)",
            (delivery_id,),
        )
        return delivery_id

    dead = await running.service.services.db.run(enqueue_unrenderable)
    mail.notify()
    await status_is(running, dead, "dead_lettered")
    return sent, dead


async def exercise_admin_mail(http: ContractClient, sent: uuid.UUID, dead: uuid.UUID) -> None:
    listing = (await http.get("/api/v1/admin/mail/deliveries")).json()
    assert {item["delivery_id"] for item in listing["items"]} == {str(sent), str(dead)}
    assert (listing["page"], listing["total"], listing["has_more"]) == (1, 2, False)
    assert (await http.get("/api/v1/admin/mail/deliveries?page=2")).json()["items"] == []
    one = (await http.get(f"/api/v1/admin/mail/deliveries/{sent}")).json()
    assert one["status"] == "sent" and one["recipients"] == [ADDRESS]
    attempts = (await http.get(f"/api/v1/admin/mail/deliveries/{sent}/attempts")).json()
    assert [a["outcome"] for a in attempts["items"]] == ["sent"]
    letters = (await http.get("/api/v1/admin/mail/dead-letters")).json()
    assert [item["delivery_id"] for item in letters["items"]] == [str(dead)]
    assert_error_body(
        await http.post(f"/api/v1/admin/mail/deliveries/{sent}/resend"), 409, "already_sent"
    )
    rearmed = await http.post(f"/api/v1/admin/mail/deliveries/{dead}/resend")
    assert rearmed.status_code == 200 and rearmed.json()["status"] == "pending"
    missing = uuid.uuid4()
    assert_error_body(await http.get(f"/api/v1/admin/mail/deliveries/{missing}"), 404)
    assert_error_body(await http.get(f"/api/v1/admin/mail/deliveries/{missing}/attempts"), 404)
    assert_error_body(await http.post(f"/api/v1/admin/mail/deliveries/{missing}/resend"), 404)
    assert_error_body(await http.get("/api/v1/admin/mail/deliveries/not-a-uuid"), 400, "invalid_id")
    assert_error_body(await http.get("/api/v1/admin/mail/deliveries?page=0"), 400, "invalid_page")
    assert_error_body(await http.get("/api/v1/admin/mail/dead-letters?page=x"), 400, "invalid_page")


# The batch tests run the service with one mail worker. Committing the deliveries together
# is not enough with two: both are woken by the enqueue and claim at once, and under
# `FOR UPDATE SKIP LOCKED` each locks rows as its scan reaches them and skips the ones the
# other holds already, so each may take part of the batch (seen under load in CI).
ONE_WORKER = pytest.mark.parametrize(
    "mail_service", [{"BACKEND_MAIL_WORKERS": "1"}], indirect=True, ids=["one worker"]
)


async def enqueue_one_batch(running: Running, addresses: list[str]) -> list[uuid.UUID]:
    """Deliveries committed together, so the (one) worker claims them as one batch."""
    assert running.service.services is not None
    mail = outbox(running)

    async def write(conn: Connection) -> list[uuid.UUID]:
        return [
            await mail.enqueue_template(
                "lobby.membership.blocked", [address], {"game_id": "g"}, address, conn=conn
            )
            for address in addresses
        ]

    ids = await running.service.services.db.run(write)
    mail.notify()
    return ids


async def first_attempts_started_together(running: Running, ids: list[uuid.UUID]) -> bool:
    firsts = [(await outbox(running).attempts(i))[0].started_at for i in ids]
    return len(set(firsts)) == 1


@ONE_WORKER
async def test_a_permanent_refusal_in_a_batch_fails_that_delivery_only(
    mail_service: Running, sink: SmtpSink
) -> None:
    addresses = ["p0@example.org", "p1@example.org", "p2@example.org"]
    sink.reject("p1@example.org")  # 550, on every attempt
    first, refused, third = await enqueue_one_batch(mail_service, addresses)
    await status_is(mail_service, refused, "dead_lettered")
    for delivery_id in (first, third):
        await status_is(mail_service, delivery_id, "sent")
        assert [a.outcome for a in await outbox(mail_service).attempts(delivery_id)] == ["sent"]
    attempts = await outbox(mail_service).attempts(refused)
    assert [a.outcome for a in attempts] == ["failed"] * 3  # BACKEND_MAIL_MAX_ATTEMPTS
    assert all("550" in (a.error or "") for a in attempts)
    assert await first_attempts_started_together(mail_service, [first, refused, third])
    assert sorted(m["To"] for m in sink.messages) == ["p0@example.org", "p2@example.org"]


@ONE_WORKER
async def test_a_connection_dropped_mid_batch_retries_the_rest(
    mail_service: Running, sink: SmtpSink
) -> None:
    addresses = ["p0@example.org", "p1@example.org", "p2@example.org"]
    sink.drop_after(1)  # the relay goes away at the second message's DATA
    ids = await enqueue_one_batch(mail_service, addresses)
    for delivery_id in ids:
        await status_is(mail_service, delivery_id, "sent")
    outcomes = [[a.outcome for a in await outbox(mail_service).attempts(i)] for i in ids]
    assert outcomes == [["sent"], ["failed", "sent"], ["failed", "sent"]]
    assert await first_attempts_started_together(mail_service, ids)
    received = [m["Message-ID"] for m in await sink.wait_for(3)]
    expected = [(await outbox(mail_service).delivery(i)).message_id for i in ids]
    assert sorted(received) == sorted(expected)  # each once: the dropped one never arrived
