"""A player's refused commands come back with the engine's verdict for each (issue 18,
item 7), as orders do, instead of a bare "1 of 2 commands rejected"."""

from __future__ import annotations

import pytest

from tests.e2e.runtime.test_lifecycle import RUNTIME, started_game
from tests.support.contract import ContractClient
from tests.support.service import Running, admin_auth


@pytest.mark.parametrize("running", [RUNTIME], indirect=True)
async def test_refused_commands_carry_a_verdict_each_and_none_is_applied(
    running: Running, http: ContractClient
) -> None:
    _, (vogon, zorgon), gid = await started_game(running, http)
    games = f"/api/v1/user/games/{gid}"
    hello = {"op": "message", "to": "Zorgons", "text": "hello"}
    batch = [hello, {"op": "declare", "race": "Krikkits", "stance": "peace"}, {"op": "fly"}]

    refused = await http.post(f"{games}/commands", json={"commands": batch}, headers=vogon.headers)
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert body["error"]["code"] == "commands_rejected"
    assert body["error"]["message"] == "2 of 3 commands rejected; none applied"
    assert body["results"] == [
        {"index": 0, "status": "accepted", "reason": None},
        {"index": 1, "status": "rejected", "reason": "no other race 'Krikkits'"},
        {
            "index": 2,
            "status": "rejected",
            "reason": "unknown op 'fly'; expected declare, renamePlanet, renameShipType or message",
        },
    ]

    # All or none: the accepted message was not sent either.
    forced = await http.post(f"/api/v1/admin/runtimes/{gid}/force-next-turn", auth=admin_auth())
    assert forced.json()["turn"] == 1
    report = (await http.get(f"{games}/reports/1", headers=zorgon.headers)).json()
    assert report["messages"] == []

    fixed = await http.post(f"{games}/commands", json={"commands": [hello]}, headers=vogon.headers)
    assert fixed.status_code == 200
    assert fixed.json() == {"results": [{"index": 0, "status": "accepted", "reason": None}]}
