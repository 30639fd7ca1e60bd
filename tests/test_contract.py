"""Every operation of openapi.yaml is exercised against a live service and validated.

Each area adds its operations to `EXERCISES`; an operation in the contract
without an exercise fails `test_every_operation_has_an_exercise`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from galaxy.domain.notifications import Intent, Recipient
from tests.conftest import Running, admin_auth
from tests.services.conftest import eventually
from tests.services.test_mail_outbox import exercise_admin_mail, sent_and_dead_letter
from tests.services.test_notifications import USER, exercise_admin_notifications
from tests.support.contract import ContractClient, assert_error_body, operations

Exercise = Callable[[ContractClient, Running], Awaitable[None]]


async def healthz(http: ContractClient, running: Running) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert_error_body(await http.post("/healthz"), 405, "method_not_allowed")


async def readyz(http: ContractClient, running: Running) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {
        "postgres": True,
        "migrations": True,
        "caches": True,
        "grpc": True,
    }


async def admin_get_actors(http: ContractClient, running: Running) -> None:
    response = await http.get("/api/v1/admin/actors", auth=admin_auth())
    assert response.status_code == 200
    unauthorized = await http.get("/api/v1/admin/actors")
    assert_error_body(unauthorized, 401, "unauthorized")


async def admin_mail(http: ContractClient, running: Running) -> None:
    sent, dead = await sent_and_dead_letter(running)
    http.client.auth = admin_auth()
    await exercise_admin_mail(http, sent, dead)
    http.client.auth = None
    assert_error_body(await http.get("/api/v1/admin/mail/deliveries"), 401, "unauthorized")


async def admin_notifications(http: ContractClient, running: Running) -> None:
    assert running.service.services is not None
    notifier = running.service.services.notifier
    intent = Intent("game.turn.ready", "turn:g:1", {"game_id": "g", "turn": 1}, (Recipient(USER),))
    good = await notifier.submit(intent)
    await notifier.submit(Intent("bogus", "k", {}))
    huge = {"game_id": "g", "turn": 2**70}  # fits the catalog, not the push schema
    dead = await notifier.submit(Intent("game.turn.ready", "turn:huge", huge, (Recipient(USER),)))
    assert good is not None and dead is not None

    async def dead_lettered() -> bool:
        return (await notifier.dead_letters(1)).total == 1

    await eventually(dead_lettered)
    http.client.auth = admin_auth()
    await exercise_admin_notifications(http, good)
    http.client.auth = None
    assert_error_body(await http.get("/api/v1/admin/notifications"), 401, "unauthorized")


EXERCISES: dict[str, Exercise] = {
    "healthz": healthz,
    "readyz": readyz,
    "adminGetActors": admin_get_actors,
    "adminListMailDeliveries": admin_mail,
    "adminGetMailDelivery": admin_mail,
    "adminListMailAttempts": admin_mail,
    "adminResendMailDelivery": admin_mail,
    "adminListMailDeadLetters": admin_mail,
    "adminListNotifications": admin_notifications,
    "adminGetNotification": admin_notifications,
    "adminListNotificationDeadLetters": admin_notifications,
    "adminListMalformedIntents": admin_notifications,
}


def test_every_operation_has_an_exercise() -> None:
    assert set(operations()) == set(EXERCISES)


@pytest.mark.parametrize("operation_id", sorted(EXERCISES))
async def test_operation_conforms_to_the_contract(
    operation_id: str, http: ContractClient, running: Running
) -> None:
    await EXERCISES[operation_id](http, running)
    assert operation_id in http.exercised
