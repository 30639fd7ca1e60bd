"""Outages of what the backend depends on, while it runs: it degrades cleanly and recovers alone.

PostgreSQL restarted under load: every request that needs the database is a
clean 503 `database_unavailable` while it is down (no 500, no hang), session
lookups go on from the cache, `/readyz` says not ready; when it is back the
same process serves again, and no acknowledged write is lost. The SMTP server
gone for a while: mail is retried, then delivered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from galaxy.embedded.postgres import EmbeddedPostgres, start_embedded_postgres
from tests.support.driving import Gatewayish, admin_credentials
from tests.support.galaxy_process import GalaxyProcess, clean_environ
from tests.support.postgres import start_again, stop_quietly
from tests.support.smtp import SmtpSink, smtp_environ

pytestmark = pytest.mark.e2e


@dataclass
class Load:
    """Requests in a loop, each answer noted with the phase it arrived in."""

    phase: str = "up"
    # Cleared to end the load: each loop finishes the request it is in. Cancelling one
    # mid-request would leave httpx's body iterator unfinished, and trio warns of it.
    running: bool = True
    answers: list[tuple[str, str, int, str | None]] = field(default_factory=list)
    acknowledged: int = -1  # the last display name write answered 200
    attempted: int = -1

    def note(self, what: str, response: httpx.Response) -> None:
        body = response.json()
        # An error's code; a readiness probe says its status instead.
        code = body["error"]["code"] if "error" in body else body.get("status")
        self.answers.append((self.phase, what, response.status_code, code))

    def seen(self, phase: str, what: str, status: int) -> int:
        return sum(1 for p, w, s, _ in self.answers if (p, w, s) == (phase, what, status))


async def until(condition: Callable[[], bool]) -> None:
    with trio.fail_after(60):
        while not condition():  # noqa: ASYNC110 - the load tasks note answers; poll them
            await trio.sleep(0.02)


async def test_postgres_restarted_under_load_gives_clean_503s_then_the_same_process_recovers(
    tmp_path: Path, start_galaxy: Any
) -> None:
    postgres = await trio.to_thread.run_sync(start_embedded_postgres, tmp_path / "pg")
    try:
        await trio.to_thread.run_sync(postgres.ensure_database)
        environ = clean_environ(
            tmp_path / "galaxy",
            BACKEND_POSTGRES_DSN=postgres.dsn(),
            BACKEND_POSTGRES_OPERATION_TIMEOUT="1s",
            BACKEND_MAIL_WORKER_INTERVAL="100ms",  # background work meets the outage too
        )
        galaxy = start_galaxy(environ)
        galaxy.drain()
        await _drive_through_an_outage(galaxy, postgres)
        assert galaxy.process.poll() is None  # the same process all along
        code, lines, stderr = galaxy.stop()
        assert code == 0, stderr
        messages = Counter(line["msg"] for line in lines)
        assert messages["db.unavailable"] > 0
        assert messages["actor.crashed"] == 0  # background work waited; nothing restarted
    finally:
        await trio.to_thread.run_sync(stop_quietly, postgres)


async def _drive_through_an_outage(galaxy: GalaxyProcess, postgres: EmbeddedPostgres) -> None:
    ready, load = galaxy.ready, Load()
    async with httpx.AsyncClient(base_url=ready["http"], timeout=30) as client:
        gw = Gatewayish(client, Path(ready["maildir"]))
        player = await gw.register("pilot@example.org")
        user = {"X-User-ID": player["user"]}

        async def read_accounts() -> None:
            while load.running:
                load.note("account", await client.get("/api/v1/user/account", headers=user))

        async def look_up_sessions() -> None:
            while load.running:
                path = f"/api/v1/internal/sessions/{player['session']}"
                load.note("session", await client.get(path))

        async def probe_readiness() -> None:
            while load.running:
                load.note("readyz", await client.get("/readyz"))
                await trio.sleep(0.05)

        async def rename() -> None:
            n = 0
            while load.running:
                load.attempted = n
                answer = await client.patch(
                    "/api/v1/user/account/profile",
                    headers=user,
                    json={"display_name": f"Pilot {n}"},
                )
                load.note("rename", answer)
                if answer.status_code == 200:
                    load.acknowledged = n
                n += 1

        async with trio.open_nursery() as nursery:
            for task in (read_accounts, read_accounts, look_up_sessions, probe_readiness, rename):
                nursery.start_soon(task)
            await until(lambda: load.seen("up", "rename", 200) >= 5)

            load.phase = "down"
            await trio.to_thread.run_sync(postgres.stop)
            await until(
                lambda: (
                    load.seen("down", "account", 503) >= 10
                    and load.seen("down", "rename", 503) >= 3
                    and load.seen("down", "readyz", 503) >= 1
                    and any(line["msg"] == "actor.tick_deferred" for line in galaxy.lines)
                )
            )

            load.phase = "back"
            await trio.to_thread.run_sync(start_again, postgres)
            await until(
                lambda: (
                    load.seen("back", "account", 200) >= 10
                    and load.seen("back", "rename", 200) >= 3
                    and load.seen("back", "readyz", 200) >= 1
                )
            )
            load.running = False

        answers = Counter((phase, what, status, code) for phase, what, status, code in load.answers)
        failures = {key: n for key, n in answers.items() if key[2] >= 400}
        # The only failures: 503 database_unavailable from what needs the database.
        assert {(status, code) for (_, _, status, code) in failures} <= {
            (503, "database_unavailable"),
            (503, "not_ready"),
        }, failures
        assert not [key for key in failures if key[1] == "session"]  # served from the cache
        assert load.seen("down", "session", 200) > 0

        # Nothing acknowledged is lost: the name is the last one answered 200, or
        # one tried after it whose commit raced the shutdown.
        account = (await client.get("/api/v1/user/account", headers=user)).json()
        number = int(account["display_name"].removeprefix("Pilot "))
        assert load.acknowledged <= number <= load.attempted


async def test_mail_waits_out_an_smtp_outage_and_is_delivered(
    tmp_path: Path, start_galaxy: Any
) -> None:
    sink = SmtpSink().start()
    port = sink.port
    environ = clean_environ(
        tmp_path,
        **smtp_environ(port),
        BACKEND_SMTP_TIMEOUT="1s",
        BACKEND_MAIL_WORKER_INTERVAL="100ms",
        BACKEND_MAIL_RETRY_INITIAL="200ms",
        BACKEND_MAIL_RETRY_MAX="1s",
    )
    galaxy = start_galaxy(environ)
    galaxy.drain()
    ready = galaxy.ready
    admin = await admin_credentials(ready)
    sink.stop()  # the SMTP server goes away
    replacement: SmtpSink | None = None
    try:
        async with httpx.AsyncClient(base_url=ready["http"], timeout=30) as client:
            sent = await client.post(
                "/api/v1/public/auth/send-email-code", json={"email": "late@example.org"}
            )
            assert sent.status_code == 200

            async def delivery() -> dict[str, Any]:
                found = await client.get("/api/v1/admin/mail/deliveries", auth=admin)
                items: list[dict[str, Any]] = found.json()["items"]
                assert len(items) == 1
                return items[0]

            with trio.fail_after(30):  # a retry is scheduled after each refused connection
                while (await delivery())["attempts"] < 3:  # noqa: ASYNC110 - no event to wait on
                    await trio.sleep(0.05)
            waiting = await delivery()
            assert waiting["status"] == "retrying", waiting
            assert waiting["last_error"]

            replacement = SmtpSink(port=port).start()  # back, on the same address
            [message] = await replacement.wait_for(1)
            assert message["To"] == "late@example.org"
            with trio.fail_after(30):
                while (await delivery())["status"] != "sent":  # noqa: ASYNC110
                    await trio.sleep(0.05)
            assert (await delivery())["attempts"] >= 4
    finally:
        if replacement is not None:
            replacement.stop()
    code, _, stderr = galaxy.stop()
    assert code == 0, stderr
