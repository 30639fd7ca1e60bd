"""Mail, notifications and engine versions from the console (the engine versions on a
`galaxy run` process, as an operator starts it).

A dead letter (a real SMTP sink refusing every message) shows its last error
and is resent from the page once the relay accepts again; an engine version
is registered disabled, enabled, made the default, and the old default
disabled, each through the page's confirmation and checked through the API.
"""

from __future__ import annotations

from typing import Any

from tests.support.browser import console, needs_chromium
from tests.support.contract import ContractClient
from tests.support.galaxy_process import GalaxyProcess
from tests.support.mail import eventually, outbox
from tests.support.service import Running, admin_auth
from tests.support.smtp import SmtpSink

pytestmark = needs_chromium


async def test_a_dead_letter_is_resent_from_the_console(
    mail_service: Running, sink: SmtpSink, http: ContractClient
) -> None:
    sink.refuse(-1)
    delivery_id = str(await outbox(mail_service).enqueue_login_code("x@example.org", "424242", 600))

    async def delivery() -> dict[str, Any]:
        found: dict[str, Any] = (
            await http.get(f"/api/v1/admin/mail/deliveries/{delivery_id}", auth=admin_auth())
        ).json()
        return found

    async def dead() -> bool:
        return (await delivery())["status"] == "dead_lettered"

    await eventually(dead)
    async with console(mail_service.http) as page:
        await page.go("mail")
        assert await page.texts("td[data-key='delivery_id']") == [delivery_id] * 2  # dead, recent
        (error,) = await page.texts("td[data-key='reason']")
        assert "451" in error  # the relay's last refusal
        depth = dict(
            zip(
                await page.texts("td[data-key='state']"),
                await page.texts("td[data-key='count']"),
                strict=True,
            )
        )
        assert depth["dead_lettered"] == "1"

        sink.refuse(0)
        outcome, said = await page.act_button("Resend", f"Resend mail delivery {delivery_id}")
        assert (outcome, said) == ("ok", "resend: done — delivery pending")

        async def sent() -> bool:
            return (await delivery())["status"] == "sent"

        await eventually(sent)
        await sink.wait_for(1)
        await page.go("mail")
        assert await page.texts("td[data-key='status']") == ["sent"]
        assert await page.problems() == []


async def test_engine_versions_from_the_console(
    galaxy_run: GalaxyProcess, galaxy_run_http: ContractClient
) -> None:
    async def versions() -> dict[str, dict[str, Any]]:
        answer = await galaxy_run_http.get("/api/v1/admin/engine-versions", auth=admin_auth())
        listing = answer.json()
        return {v["version"]: v for v in listing["items"]}

    (old,) = [v for v, row in (await versions()).items() if row["is_default"]]
    row = "//span[@data-version='9.9.0']"
    async with console(galaxy_run.ready["http"]) as page:
        await page.go("engines")
        await page.fill("#engine-version", "9.9.0")
        await page.fill("#engine-image", "galaxy-engine:9.9.0")
        await page.fill("#engine-notes", "<i>canary</i>")
        outcome, said = await page.act_button("Register", "Register engine 9.9.0")
        assert (outcome, said) == ("ok", "register: done — 9.9.0 disabled")
        assert (await versions())["9.9.0"]["enabled"] is False
        assert "<i>canary</i>" in await page.texts("td[data-key='notes']")

        outcome, said = await page.act(f"{row}/button[contains(@class, 'enable')]", "9.9.0")
        assert (outcome, said) == ("ok", "enable: done — 9.9.0 enabled")
        assert (await versions())["9.9.0"]["enabled"] is True

        outcome, said = await page.act(f"{row}/button[contains(@class, 'default')]", "9.9.0")
        assert (outcome, said) == ("ok", "make default: done — 9.9.0 enabled, default")
        now = await versions()
        assert now["9.9.0"]["is_default"] is True and now[old]["is_default"] is False

        old_row = f"//span[@data-version='{old}']"
        outcome, said = await page.act(f"{old_row}/button[contains(@class, 'disable')]", old)
        assert (outcome, said) == ("ok", f"disable: done — {old} disabled")
        assert (await versions())[old]["enabled"] is False
        assert await page.count("span[data-version='9.9.0'] button.disable") == 0  # the default
        assert await page.problems() == []
