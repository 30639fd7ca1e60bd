"""The operator console in headless Chromium: the live actor tree, its details, the charts.

The tree is a `galaxy run` process's, as an operator starts it (embedded
defaults): the page and its assets come from the installed package. The page
refreshes itself (the cards and the tree every 2 s) with no reload from the
test; a click on an actor shows its snapshot. The tree page's screenshot is
docs/images/console-tree.png (GALAXY_CONSOLE_SCREENSHOTS=1 renews it;
otherwise it goes to build/test-artifacts).
"""

from __future__ import annotations

from tests.support.browser import console, needs_chromium
from tests.support.contract import ContractClient
from tests.support.galaxy_process import GalaxyProcess
from tests.support.service import Running, admin_auth

pytestmark = needs_chromium

UNHEALTHY = """
const [path, done] = arguments;
fetch("/api/v1/admin/actors").then(r => r.json()).then(tree => {
  const find = (node) => node.path === path ? node : node.children.map(find).find(Boolean);
  const actor = find(tree.root);
  const ask = (change) => GalaxyConsole.unhealthy({...actor, ...change});
  done({
    "as it is": ask({}),
    "failed": ask({status: "failed"}),
    "last error": ask({last_error: "RuntimeError: boom"}),
    "restarted lately": ask({recent_restarts: [{at: "2026-01-01T00:00:00Z", reason: "x"}]}),
    "mailbox half full": ask({mailbox_depth: Math.ceil(actor.mailbox_capacity / 2)}),
    "dropping": ask({dropped: 1}),
  });
});
"""


async def test_the_tree_refreshes_itself_and_shows_an_actors_details(
    galaxy_run: GalaxyProcess, galaxy_run_http: ContractClient
) -> None:
    async with console(galaxy_run.ready["http"]) as page:
        await page.go("actors")
        # It refreshes itself: wait for the tree's second redraw, no reload from us.
        await page.wait_text("#updated", "actors")
        await page.until("Number(document.getElementById('tree').dataset.refreshes) >= 2")
        root = await page.text("#tree .node[data-path='root'] .status")
        hub = await page.text("#tree .node[data-path='root/core/push.hub'] .status")
        assert (root, hub) == ("running", "running")
        (instance,) = await page.texts("#instances td[data-key='instance_id']")
        assert instance.endswith("(this one)"), instance  # the cluster of one
        assert "total" in await page.text("#actors") and "running" in await page.text("#actors")
        await page.click("#tree .node[data-path='root/core/push.hub']")
        details = await page.wait_text("#actor-details", "root/core/push.hub")
        tree = (await galaxy_run_http.get("/api/v1/admin/actors", auth=admin_auth())).json()
        assert "mailbox_capacity" in details and "ticks_deferred" in details
        assert tree["count"] >= 10
        assert await page.count("#tree .node.unhealthy") == 0  # a healthy service: none lit
        # What lights a node, asked of the page's own rule about the hub's real snapshot.
        verdicts = await page.script(UNHEALTHY, "root/core/push.hub")
        assert verdicts == {
            "as it is": False,
            "failed": True,
            "last error": True,
            "restarted lately": True,
            "mailbox half full": True,
            "dropping": True,
        }
        assert await page.text("#problem") == ""
        shot = await page.screenshot("console-tree.png", for_docs=True)
        assert shot.stat().st_size > 1000
        assert await page.problems() == []


async def test_the_charts_draw_the_last_hour(running: Running, http: ContractClient) -> None:
    from galaxy.core.history import CloseNow
    from galaxy.tree import HISTORY

    for _ in range(3):  # three intervals with admin requests in them, closed at once
        for _ in range(4):
            await http.get("/api/v1/admin/console/summary", auth=admin_auth())
        await running.service.system.lookup(HISTORY).ask(CloseNow())
    async with console(running.http) as page:
        await page.go("charts")
        names = await page.texts("#charts figure figcaption")
        assert "http.rate (req/s)" in names and "mailbox.depth_max (messages)" in names, names
        assert await page.count("#charts svg.chart") == len(names)
        rate = "#charts figure[data-series='http.rate']"
        assert await page.count(f"{rate} polyline[data-label='admin']") == 1
        assert "admin (" in await page.text(f"{rate} .legend")
        await page.screenshot("console-charts.png", for_docs=True)
        assert await page.problems() == []
