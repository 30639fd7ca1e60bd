"""The console's history through the API: requests, a turn, mail and push events show up.

The service runs whole (every actor, the process driver and the real engine);
the test asks the `console.history` actor to close the open interval at once
(`CloseNow`) instead of waiting out its 10 s timer, which the actor's own
test covers on trio's MockClock.
"""

from __future__ import annotations

import uuid
from typing import Any

from galaxy.core.history import CloseNow
from galaxy.services.history import SURFACES
from galaxy.tree import HISTORY
from tests.e2e.mail.test_mail_outbox import sent_and_dead_letter
from tests.e2e.runtime.test_lifecycle import started_game
from tests.support.contract import ContractClient, assert_error_body
from tests.support.mail import eventually
from tests.support.players import SEND
from tests.support.service import Running, admin_auth

HISTORY_PATH = "/api/v1/admin/console/history"


async def close_interval(running: Running) -> None:
    await running.service.system.lookup(HISTORY).ask(CloseNow())


def by_key(body: dict[str, Any]) -> dict[tuple[str, str], list[list[float]]]:
    return {(s["name"], s["label"]): s["points"] for s in body["series"]}


def total(points: list[list[float]]) -> float:
    return sum(value for _, value in points)


async def read_history(http: ContractClient, running: Running) -> dict[str, Any]:
    await close_interval(running)
    answer = await http.get(HISTORY_PATH, auth=admin_auth())
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def every_surface(seen: dict[tuple[str, str], list[list[float]]]) -> bool:
    return all(total(seen[("http.rate", surface)]) > 0 for surface in SURFACES)


async def exercise_console_history(http: ContractClient, running: Running) -> None:
    """For the contract suite: a request of each surface, then the history, validated.

    On a fresh service the user surface's only request is the edge lane's account
    read (served below Quart), and the internal one's the hot session lookup: both
    paths that bypass Quart must record for every surface to show."""
    await http.post(SEND, json={"email": "history@example.org"})
    await http.get(f"/api/v1/internal/sessions/{uuid.uuid4()}")
    await http.get("/api/v1/user/account", headers={"X-User-ID": str(uuid.uuid4())})
    seen: dict[tuple[str, str], list[list[float]]] = {}

    async def counted() -> bool:
        # A request is recorded once its answer is sent: just after the client has it.
        body = await read_history(http, running)
        assert body["interval_seconds"] == 10
        seen.update(by_key(body))
        return every_surface(seen)

    await eventually(counted)
    assert_error_body(await http.get(HISTORY_PATH), 401, "unauthorized")


async def test_requests_a_turn_mail_and_push_events_show_in_the_history(
    running: Running, http: ContractClient
) -> None:
    empty = await read_history(http, running)
    assert {name for name, _ in by_key(empty)} == {
        "http.rate",
        "http.latency_p50",
        "http.latency_p99",
        "turn.duration_mean",
        "turn.duration_max",
        "push.events",
        "mail.sent",
        "mail.retried",
        "mail.dead",
        "mailbox.depth_total",
        "mailbox.depth_max",
    }
    assert {label for name, label in by_key(empty) if name == "http.rate"} == set(SURFACES)
    assert total(by_key(empty)[("turn.duration_mean", "")]) == 0  # no turn yet: no point

    # Every surface, the edge lane's account read (user) and the gateway's session
    # lookup (internal) among them: both are answered below Quart.
    owner, _, gid = await started_game(running, http)
    await http.get(f"/api/v1/internal/sessions/{uuid.uuid4()}")
    account = await http.get("/api/v1/user/account", headers=owner.headers)
    assert account.status_code == 200
    await http.post(SEND, json={"email": "someone@example.org"})
    forced = await http.post(f"/api/v1/admin/runtimes/{gid}/force-next-turn", auth=admin_auth())
    assert forced.json()["turn"] == 1
    sent, dead = await sent_and_dead_letter(running)

    seen: dict[tuple[str, str], list[list[float]]] = {}

    async def everything_shows() -> bool:
        # The turn's push events go out through the notification router, after the turn;
        # a request is recorded once its answer is sent, just after the client has it.
        seen.update(by_key(await read_history(http, running)))
        return total(seen[("push.events", "")]) > 0 and every_surface(seen)

    await eventually(everything_shows)
    for surface in SURFACES:
        assert total(seen[("http.rate", surface)]) > 0, surface
        assert seen[("http.latency_p50", surface)], surface
        p99 = seen[("http.latency_p99", surface)]
        assert all(
            v >= p50
            for (_, v), (_, p50) in zip(p99, seen[("http.latency_p50", surface)], strict=True)
        )
    ((_, mean),) = seen[("turn.duration_mean", "")]  # exactly one turn: the forced one
    ((_, longest),) = seen[("turn.duration_max", "")]
    assert 0 < mean == longest
    assert total(seen[("mail.sent", "")]) >= 2  # the login code and `sent` (and the sign-ups')
    assert total(seen[("mail.dead", "")]) == 1  # `dead`, which does not render
    assert seen[("mailbox.depth_total", "")] and seen[("mailbox.depth_max", "")]
    points = [at for _, points in seen.items() for at, _ in points]
    assert all(isinstance(at, int) for at in points)
    assert sent != dead
