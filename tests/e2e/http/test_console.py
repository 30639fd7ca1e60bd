"""The operator console in headless Chromium: the live tree, summaries, refreshing itself.

Runs where Debian's chromium and chromedriver are installed (`make test`
installs them); the screenshot is kept in build/test-artifacts/console.png.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
import trio

from tests.support.service import ADMIN, Running

ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="no chromium/chromedriver (make test installs them)"
)


def look(url: str) -> dict[str, object]:
    """Open the console as an operator would; what it showed (runs in a thread)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1200,900")
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    try:
        token = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}}
        )
        driver.get(f"{url}/api/v1/admin/console")
        wait = WebDriverWait(driver, 30)
        # It refreshes itself: wait for a second refresh, no reload from us.
        wait.until(
            lambda d: (
                int(d.find_element(By.ID, "updated").get_attribute("data-refreshes") or 0) >= 2
            )
        )
        nodes = driver.find_elements(By.CSS_SELECTOR, "#tree .node")
        shown = {
            node.get_attribute("data-path"): node.find_element(By.CSS_SELECTOR, ".status").text
            for node in nodes
        }
        actors_card = driver.find_element(By.ID, "actors").text
        outbox_card = driver.find_element(By.ID, "outbox").text
        problem = driver.find_element(By.ID, "problem").text
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "console.png"))
        return {"shown": shown, "actors": actors_card, "outbox": outbox_card, "problem": problem}
    finally:
        driver.quit()


async def test_the_console_shows_the_live_tree_and_refreshes(running: Running) -> None:
    seen = await trio.to_thread.run_sync(look, running.http)
    shown = seen["shown"]
    assert isinstance(shown, dict)
    assert shown["root"] == "running"
    assert shown["root/core/push.hub"] == "running"
    assert shown["root/edges/http"] == "running"
    assert "total" in str(seen["actors"]) and "running" in str(seen["actors"])
    assert seen["problem"] == ""
    assert (ARTIFACTS / "console.png").stat().st_size > 1000
