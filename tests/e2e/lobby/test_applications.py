"""An applicant changes the race name of a pending application (issue 18, item 7): an
application whose name someone else took first is fixed, not stuck."""

from __future__ import annotations

from tests.support.contract import assert_error_body
from tests.support.lobby import User


async def test_a_pending_application_takes_another_race_name(users: list[User]) -> None:
    owner, applicant, rival, other_owner = users[:4]
    gid = (await owner.enrolling(min_players=2))["game_id"]
    applied = await applicant.post(f"/games/{gid}/applications", {"race_name": "Vogons"})
    assert applied.status_code == 201 and applied.json()["membership"] is None
    application = f"/games/{gid}/applications/{applied.json()['application']['application_id']}"

    # The application reserves nothing: a rival seated elsewhere takes the name first.
    elsewhere = (await other_owner.enrolling(min_players=2, auto_approve=True))["game_id"]
    seated = await rival.post(f"/games/{elsewhere}/applications", {"race_name": "Vogons"})
    assert seated.json()["membership"]["race_name"] == "Vogons"
    assert_error_body(await owner.post(f"{application}/approve"), 409, "race_name_taken")

    # The same checks as applying: a taken name (or a look-alike) and a bad one.
    assert_error_body(
        await applicant.patch(application, {"race_name": "V0gons"}), 409, "race_name_taken"
    )
    assert_error_body(await applicant.patch(application, {"race_name": "!"}), 400)
    assert_error_body(await applicant.patch(application, {}), 400)
    # Nobody else changes it, the owner included.
    for stranger in (rival, owner):
        refused = await stranger.patch(application, {"race_name": "Krikkits"})
        assert_error_body(refused, 404, "application_not_found")

    renamed = await applicant.patch(application, {"race_name": "Zorgons"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["race_name"], renamed.json()["status"]) == ("Zorgons", "pending")
    pending = (await owner.get(f"/games/{gid}")).json()["applications"]
    assert [a["race_name"] for a in pending] == ["Zorgons"]

    approved = await owner.post(f"{application}/approve")
    assert approved.json()["membership"]["race_name"] == "Zorgons"
    assert_error_body(
        await applicant.patch(application, {"race_name": "Krikkits"}), 409, "application_approved"
    )


async def test_a_game_no_longer_enrolling_keeps_its_applications_as_they_are(
    users: list[User],
) -> None:
    owner, applicant, seated = users[:3]
    gid = (await owner.enrolling(min_players=2))["game_id"]
    applied = await applicant.post(f"/games/{gid}/applications", {"race_name": "Vogons"})
    application = f"/games/{gid}/applications/{applied.json()['application']['application_id']}"
    for player, name in ((seated, "Zorgons"), (owner, "Hosts")):
        joined = await player.post(f"/games/{gid}/applications", {"race_name": name})
        app_id = joined.json()["application"]["application_id"]
        assert (await owner.post(f"/games/{gid}/applications/{app_id}/approve")).status_code == 200
    assert (await owner.post(f"/games/{gid}/ready-to-start")).status_code == 200
    refused = await applicant.patch(application, {"race_name": "Krikkits"})
    assert_error_body(refused, 409, "game_ready_to_start")
