"""The game view (Games.view) on a real PostgreSQL: one statement (store.lobby.game_sight)
answers what the separate reads of the game, the viewer's role and the owner's pending
applications and invites answer, for every kind of viewer."""

from __future__ import annotations

import uuid

import pytest

from galaxy.domain.errors import NotFound
from galaxy.domain.lobby import Action
from galaxy.services.lobby.games import Pending, Sight
from galaxy.store import lobby as store
from galaxy.store.database import Connection, Database
from tests.support.lobby_services import Lobby, lobby_of


@pytest.fixture
async def lobby(database: Database) -> Lobby:
    return lobby_of(database)


async def separately(lobby: Lobby, game_id: uuid.UUID, viewer: uuid.UUID) -> Sight | None:
    """The view as the separate reads make it (None: hidden from `viewer`)."""

    async def read(conn: Connection) -> Sight | None:
        game = await lobby.ctx.game(conn, game_id)
        role = await lobby.ctx.viewer_role(conn, game, viewer)
        if role is None:
            return None
        if role != "owner":
            return Sight(game, role, None)
        applications = await store.pending_applications(conn, game_id)
        return Sight(game, role, Pending(applications, await store.pending_invites(conn, game_id)))

    return await lobby.db.run(read)


async def assert_same_view(lobby: Lobby, game_id: uuid.UUID, viewer: uuid.UUID) -> Sight | None:
    expected = await separately(lobby, game_id, viewer)
    if expected is None:
        with pytest.raises(NotFound) as hidden:
            await lobby.games.view(viewer, game_id)
        assert hidden.value.code == "game_not_found"
        return None
    assert await lobby.games.view(viewer, game_id) == expected
    return expected


async def test_every_viewer_sees_in_one_statement_what_the_separate_reads_show(
    lobby: Lobby,
) -> None:
    owner, member, applicant, other, invited, stranger = [
        await lobby.user(f"{n}@example.org") for n in ("o", "m", "a", "b", "i", "s")
    ]
    game_id = (await lobby.games.create(owner, {"name": "Sight", "min_players": 2})).game_id
    for viewer in (owner, stranger):  # a public draft: its owner's alone
        await assert_same_view(lobby, game_id, viewer)
    await lobby.games.act(game_id, Action.OPEN_ENROLLMENT, owner=owner)
    approved = await lobby.enrollment.apply(member, game_id, "Members", "")
    await lobby.enrollment.decide(owner, game_id, approved.application.application_id, approve=True)
    await lobby.enrollment.apply(applicant, game_id, "Applicants", "hello")
    await lobby.enrollment.apply(other, game_id, "Others", "")
    await lobby.enrollment.invite(owner, game_id, invited, None)
    await lobby.enrollment.invite(owner, game_id, None, None)  # a code invite

    # Two applications made in the same instant: each row must still be itself.
    async def same_instant(conn: Connection) -> None:
        await conn.execute(
            "UPDATE applications SET created_at = '2030-01-01T00:00:00Z'"
            " WHERE game_id = %s AND status = 'pending'",
            (game_id,),
        )

    await lobby.db.run(same_instant)
    sight = await lobby.games.view(owner, game_id)
    assert sight.viewer_role == "owner" and sight.pending is not None
    expected = await separately(lobby, game_id, owner)
    assert expected is not None and expected.pending is not None
    assert sight.game == expected.game
    by_id = sorted(sight.pending.applications, key=lambda a: a.application_id)
    assert by_id == sorted(expected.pending.applications, key=lambda a: a.application_id)
    assert [a.race_name for a in by_id] != [] and len(by_id) == 2
    assert sight.pending.invites == expected.pending.invites and len(sight.pending.invites) == 2

    roles = {}
    for viewer in (member, applicant, invited, stranger):
        seen = await assert_same_view(lobby, game_id, viewer)
        roles[viewer] = seen.viewer_role if seen else None
    assert roles == {member: "member", applicant: "public", invited: "invited", stranger: "public"}


async def test_a_private_game_is_hidden_from_strangers_in_one_statement(lobby: Lobby) -> None:
    owner, invited, stranger = [await lobby.user(f"{n}@example.org") for n in ("o", "i", "s")]
    settings = {"name": "Hidden", "min_players": 2, "visibility": "private"}
    game_id = (await lobby.games.create(owner, settings)).game_id
    await lobby.games.act(game_id, Action.OPEN_ENROLLMENT, owner=owner)
    await lobby.enrollment.invite(owner, game_id, invited, None)

    assert (await assert_same_view(lobby, game_id, invited)) is not None
    assert (await assert_same_view(lobby, game_id, stranger)) is None
    with pytest.raises(NotFound):
        await lobby.games.view(owner, uuid.uuid4())  # no such game
