"""The admin surface in a browser's hands: forged cross-site requests change nothing.

A browser sends the operator's Basic credentials with any request to the
origin. A cross-site form POST with no body once disabled an admin, deleted a
player and forced a turn; now a state-changing admin request that a browser
marks cross-site, whose Origin is another host, or whose body type a form can
send, is refused before the credentials are even checked. Every admin answer
carries headers that keep it out of frames, caches and MIME sniffing.
"""

from __future__ import annotations

import pytest

from tests.support.contract import ContractClient, assert_error_body
from tests.support.players import login
from tests.support.service import Running, admin_auth

ADMINS = "/api/v1/admin/admin-accounts"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Sec-Fetch-Site": "cross-site"}, 403, "cross_site_request"),
        ({"Sec-Fetch-Site": "same-site"}, 403, "cross_site_request"),  # a sibling subdomain
        ({"Origin": "https://evil.example"}, 403, "cross_site_request"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        ({"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
        ({"Content-Type": "multipart/form-data; boundary=x"}, 415, "unsupported_media_type"),
    ],
)
async def test_a_forged_admin_request_changes_nothing(
    http: ContractClient, running: Running, headers: dict[str, str], status: int, code: str
) -> None:
    player = await login(http, running, "victim@example.org")
    forged = await http.post(
        f"/api/v1/admin/users/{player.user_id}/soft-delete", headers=headers, auth=admin_auth()
    )
    assert_error_body(forged, status, code)
    still = await http.get(f"/api/v1/admin/users/{player.user_id}", auth=admin_auth())
    assert still.json()["status"] == "active"


async def test_the_console_and_tools_still_act(http: ContractClient, running: Running) -> None:
    player = await login(http, running, "tooled@example.org")
    own_origin = running.http.split("//", 1)[1]
    as_console = await http.post(
        f"/api/v1/admin/users/{player.user_id}/sessions/revoke-all",
        json={"reason": "from the console"},
        headers={"Sec-Fetch-Site": "same-origin", "Origin": f"http://{own_origin}"},
        auth=admin_auth(),
    )
    assert as_console.status_code == 200
    as_curl = await http.post(
        f"/api/v1/admin/users/{player.user_id}/soft-delete", auth=admin_auth()
    )
    assert as_curl.status_code == 200  # no browser headers, no body: a tool
    # Reading is never refused: a link followed from elsewhere just shows the page.
    linked = await http.get(
        "/api/v1/admin/console", headers={"Sec-Fetch-Site": "cross-site"}, auth=admin_auth()
    )
    assert linked.status_code == 200


async def test_admin_answers_carry_security_headers(http: ContractClient) -> None:
    page = await http.get("/api/v1/admin/console", auth=admin_auth())
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "<script>" not in page.text  # no inline code
    for answer in (
        page,
        await http.get(ADMINS, auth=admin_auth()),
        await http.get(ADMINS),  # a refusal too
    ):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
