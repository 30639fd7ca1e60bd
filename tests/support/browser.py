"""The operator console in headless Chromium, driven from a trio test.

Selenium blocks, and the service runs in the test's own trio run: every browser
call goes to a worker thread (`trio.to_thread`), so the service keeps answering
while the browser waits on it. Authentication is Basic, sent on every request
through Chrome's DevTools (what a browser holding the operator's credentials
does). Runs where Debian's chromium and chromedriver are installed (`make
browser`, part of `make test`).
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from tests.support.service import ADMIN

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ROOT = Path(__file__).resolve().parents[2]
# Chromium's own traffic off the machine (updates, sync, field trials) is switched off:
# the tests' traffic stays on loopback.
BROWSER_FLAGS = (
    "--no-sandbox",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)
PATIENCE = 60.0  # seconds a page may take to show what a test waits for

needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="no chromium/chromedriver (make test installs them)"
)


def pictures(for_docs: bool) -> Path:
    """Where screenshots go: the docs' images when asked to renew them, else the artifacts."""
    if for_docs and os.environ.get("GALAXY_CONSOLE_SCREENSHOTS") == "1":
        return ROOT / "docs" / "images"
    return ROOT / "build" / "test-artifacts"


class Console:
    """One browser on the console; every method runs selenium in a worker thread."""

    def __init__(self, driver: Any, base: str) -> None:
        self.driver = driver
        self.base = base
        self.opened = False

    async def _run(self, work: Callable[[], Any]) -> Any:
        return await trio.to_thread.run_sync(work)

    def _wait(self, condition: Callable[[Any], Any], what: str) -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, PATIENCE, poll_frequency=0.1).until(condition, what)

    def _loaded(self) -> int:
        main = "return document.getElementById('main').dataset.loaded"
        return int(self.driver.execute_script(main))

    async def go(self, route: str) -> None:
        """Show `#/<route>` and wait until its view has drawn."""
        view = route.split("/", 1)[0]

        def work() -> None:
            if not self.opened:
                self.driver.get(f"{self.base}/api/v1/admin/console#/{route}")
                self.opened = True
                before = 0
            else:
                before = self._loaded()
                if self.driver.execute_script("return location.hash") == f"#/{route}":
                    self.driver.execute_script("GalaxyConsole.redraw()")  # same page: reload it
                else:
                    self.driver.execute_script("location.hash = arguments[0]", f"#/{route}")
            self._wait(
                lambda d: d.execute_script(
                    "const m = document.getElementById('main');"
                    "return m.dataset.view === arguments[0]"
                    " && Number(m.dataset.loaded) > arguments[1]",
                    view,
                    before,
                ),
                f"the {route} page",
            )

        await self._run(work)

    async def act(self, css: str, names: str, *, cancel: bool = False) -> tuple[str, str]:
        """Click an action (a CSS selector, or an XPath from "//"), check its confirmation
        names `names`, confirm (or cancel); the result line it left: (outcome, text).
        Waits for the page's redraw too."""

        def work() -> tuple[str, str]:
            from selenium.webdriver.common.by import By

            seq = int(self.driver.find_element(By.ID, "result").get_attribute("data-seq") or 0)
            loaded = self._loaded()
            how = By.XPATH if css.startswith("//") else By.CSS_SELECTOR
            self.driver.find_element(how, css).click()
            dialog = self.driver.find_element(By.ID, "confirm")
            self._wait(lambda d: dialog.get_attribute("open") is not None, "the confirmation")
            question = self.driver.find_element(By.ID, "confirm-text").text
            assert names in question, (names, question)
            self.driver.find_element(By.ID, "confirm-cancel" if cancel else "confirm-ok").click()
            result = self.driver.find_element(By.ID, "result")
            self._wait(
                lambda d: int(result.get_attribute("data-seq") or 0) > seq, "the action's result"
            )
            if not cancel:
                self._wait(lambda d: self._loaded() > loaded, "the page after the action")
            return str(result.get_attribute("data-outcome")), str(result.text)

        result: tuple[str, str] = await self._run(work)
        return result

    async def act_button(self, label: str, names: str) -> tuple[str, str]:
        """`act` on the action button that reads `label` (the only one on the page)."""
        return await self.act(f"//button[normalize-space()='{label}']", names)

    async def text(self, css: str) -> str:
        from selenium.webdriver.common.by import By

        return str(await self._run(lambda: self.driver.find_element(By.CSS_SELECTOR, css).text))

    async def texts(self, css: str) -> list[str]:
        from selenium.webdriver.common.by import By

        def work() -> list[str]:
            return [node.text for node in self.driver.find_elements(By.CSS_SELECTOR, css)]

        found: list[str] = await self._run(work)
        return found

    async def count(self, css: str) -> int:
        return len(await self.texts(css))

    async def click(self, css: str) -> None:
        from selenium.webdriver.common.by import By

        await self._run(lambda: self.driver.find_element(By.CSS_SELECTOR, css).click())

    async def submit(self, css: str) -> None:
        """Click what redraws the page (a filter, a search) and wait for the redraw."""
        from selenium.webdriver.common.by import By

        def work() -> None:
            loaded = self._loaded()
            self.driver.find_element(By.CSS_SELECTOR, css).click()
            self._wait(lambda d: self._loaded() > loaded, f"the page after {css}")

        await self._run(work)

    async def fill(self, css: str, value: str) -> None:
        """Type into an input, or choose an option of a select, as a person would."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        def work() -> None:
            field = self.driver.find_element(By.CSS_SELECTOR, css)
            if field.tag_name == "select":
                Select(field).select_by_value(value)
            else:
                field.clear()
                field.send_keys(value)

        await self._run(work)

    async def wait_text(self, css: str, wanted: str) -> str:
        """Wait until the element's text holds `wanted` (a page that refreshes itself)."""
        from selenium.webdriver.common.by import By

        def shows(driver: Any) -> str | bool:
            nodes = driver.find_elements(By.CSS_SELECTOR, css)
            return next((n.text for n in nodes if wanted in n.text), False)

        found: str = await self._run(lambda: self._wait(shows, f"{wanted!r} in {css}"))
        return found

    async def until(self, expression: str) -> None:
        """Wait until a JavaScript expression about the page holds."""
        await self._run(
            lambda: self._wait(lambda d: d.execute_script(f"return {expression}"), expression)
        )

    async def script(self, source: str, *args: Any) -> Any:
        """Run an async script in the page (the last argument is its callback)."""
        return await self._run(lambda: self.driver.execute_async_script(source, *args))

    async def screenshot(self, name: str, *, for_docs: bool = False) -> Path:
        """The window as it is; `for_docs`: one of the runbook's pictures."""
        target = pictures(for_docs) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        await self._run(lambda: self.driver.save_screenshot(str(target)))
        return target

    async def problems(self) -> list[str]:
        """The browser's errors: script errors and refused content (CSP). An API
        answer of 4xx is logged too ("Failed to load resource"): the tests provoke
        those on purpose, and the page shows them, so they are not problems."""
        entries: list[dict[str, Any]] = await self._run(lambda: self.driver.get_log("browser"))
        return [
            str(entry["message"])
            for entry in entries
            if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]
        ]


def _start(base: str, user: str, password: str) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*BROWSER_FLAGS, "--headless=new", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    try:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}}
        )
        driver.set_script_timeout(PATIENCE)
    except BaseException:
        driver.quit()
        raise
    return driver


@asynccontextmanager
async def console(
    base: str, user: str = ADMIN[0], password: str = ADMIN[1]
) -> AsyncIterator[Console]:
    """A browser signed in as `user` (the bootstrap operator unless told), closed after."""
    driver = await trio.to_thread.run_sync(_start, base, user, password)
    try:
        yield Console(driver, base)
    finally:
        await trio.to_thread.run_sync(driver.quit)
