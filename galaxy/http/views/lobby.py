"""Views of the lobby (`/api/v1/user/lobby/*`, `/api/v1/admin/games/*`): games, applications,
invites, memberships and race names.

Fields keep the rows' order, so the JSON is the one the surfaces answered before views.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from galaxy.http.views.base import maybe_text_id, maybe_time, text_id, time
from galaxy.services.lobby.enrollment import Answered, Applied
from galaxy.services.lobby.games import GameRecord, Sight
from galaxy.store.admin_views import AdminGameRow, TurnRow
from galaxy.store.lobby import ApplicationRow, GameRow, InviteRow, MembershipRow
from galaxy.store.race_names import RaceNameRow


@dataclass(frozen=True, slots=True)
class GameView:
    game_id: str
    owner_user_id: str | None  # None: a house game, made by an operator
    name: str
    description: str
    visibility: str
    status: str
    status_reason: str | None
    min_players: int
    max_players: int
    auto_approve: bool
    enrollment_deadline: str | None
    turn_schedule: str
    engine_version: str | None
    current_turn: int
    runtime_status: str | None
    created_at: str
    updated_at: str
    started_at: str | None
    finished_at: str | None
    winner_race: str | None
    members: int

    @classmethod
    def of(cls, row: GameRow) -> GameView:
        return cls(
            game_id=text_id(row.game_id),
            owner_user_id=maybe_text_id(row.owner_user_id),
            name=row.name,
            description=row.description,
            visibility=row.visibility,
            status=row.status,
            status_reason=row.status_reason,
            min_players=row.min_players,
            max_players=row.max_players,
            auto_approve=row.auto_approve,
            enrollment_deadline=maybe_time(row.enrollment_deadline),
            turn_schedule=row.turn_schedule,
            engine_version=row.engine_version,
            current_turn=row.current_turn,
            runtime_status=row.runtime_status,
            created_at=time(row.created_at),
            updated_at=time(row.updated_at),
            started_at=maybe_time(row.started_at),
            finished_at=maybe_time(row.finished_at),
            winner_race=row.winner_race,
            members=row.members,
        )


@dataclass(frozen=True, slots=True)
class AdminGameSummaryView(GameView):
    """A game in the operators' listing: the game, its engine and the instance running it.
    `engine_version` is the version the runtime runs, else the one the game chose."""

    turn: int
    next_turn_at: str | None
    driver: str | None
    probe_failures: int
    last_error: str | None
    owner_instance: str | None
    member_count: int

    @classmethod
    def of_admin(cls, row: AdminGameRow) -> AdminGameSummaryView:
        game = GameView.of(row.game)
        shared = {f.name: getattr(game, f.name) for f in fields(GameView)}
        shared["engine_version"] = row.running_version or row.game.engine_version
        return cls(
            **shared,
            turn=row.turn,
            next_turn_at=maybe_time(row.next_turn_at),
            driver=row.driver,
            probe_failures=row.probe_failures,
            last_error=row.last_error,
            owner_instance=row.owner_instance,
            member_count=row.game.members,
        )


@dataclass(frozen=True, slots=True)
class TurnView:
    turn: int
    archived_at: str
    duration_ms: int | None

    @classmethod
    def of(cls, row: TurnRow) -> TurnView:
        return cls(turn=row.turn, archived_at=time(row.archived_at), duration_ms=row.duration_ms)


@dataclass(frozen=True, slots=True)
class TurnsView:
    turns: list[TurnView]

    @classmethod
    def of(cls, rows: Sequence[TurnRow]) -> TurnsView:
        return cls([TurnView.of(row) for row in rows])


@dataclass(frozen=True, slots=True)
class ApplicationView:
    application_id: str
    game_id: str
    applicant_user_id: str
    race_name: str
    message: str
    status: str
    reason: str | None
    created_at: str
    decided_at: str | None

    @classmethod
    def of(cls, row: ApplicationRow) -> ApplicationView:
        return cls(
            application_id=text_id(row.application_id),
            game_id=text_id(row.game_id),
            applicant_user_id=text_id(row.applicant_user_id),
            race_name=row.race_name,
            message=row.message,
            status=row.status,
            reason=row.reason,
            created_at=time(row.created_at),
            decided_at=maybe_time(row.decided_at),
        )


@dataclass(frozen=True, slots=True)
class InviteView:
    invite_id: str
    game_id: str
    inviter_user_id: str
    invited_user_id: str | None  # None: a code invite nobody has redeemed yet
    status: str
    expires_at: str
    created_at: str
    decided_at: str | None
    code: str | None  # a shareable invite's code

    @classmethod
    def of(cls, row: InviteRow) -> InviteView:
        return cls(
            invite_id=text_id(row.invite_id),
            game_id=text_id(row.game_id),
            inviter_user_id=text_id(row.inviter_user_id),
            invited_user_id=maybe_text_id(row.invited_user_id),
            status=row.status,
            expires_at=time(row.expires_at),
            created_at=time(row.created_at),
            decided_at=maybe_time(row.decided_at),
            code=row.code,
        )


@dataclass(frozen=True, slots=True)
class MembershipView:
    membership_id: str
    game_id: str
    user_id: str
    race_name: str
    status: str
    reason: str | None
    joined_at: str
    left_at: str | None
    initial_planets: int | None
    initial_population: float | None
    max_planets: int | None
    max_population: float | None

    @classmethod
    def of(cls, row: MembershipRow) -> MembershipView:
        return cls(
            membership_id=text_id(row.membership_id),
            game_id=text_id(row.game_id),
            user_id=text_id(row.user_id),
            race_name=row.race_name,
            status=row.status,
            reason=row.reason,
            joined_at=time(row.joined_at),
            left_at=maybe_time(row.left_at),
            initial_planets=row.initial_planets,
            initial_population=row.initial_population,
            max_planets=row.max_planets,
            max_population=row.max_population,
        )


def _seat(row: MembershipRow | None) -> MembershipView | None:
    return MembershipView.of(row) if row is not None else None


# A game as a player sees it (the schema GameView): the owner also sees what is pending,
# the others get no `applications` or `invites` member at all (not empty lists), hence
# two shapes.


@dataclass(frozen=True, slots=True)
class SightView:
    game: GameView
    viewer_role: str  # member | invited | public


@dataclass(frozen=True, slots=True)
class OwnerSightView:
    game: GameView
    viewer_role: str  # owner
    applications: list[ApplicationView]
    invites: list[InviteView]


def sight_view(sight: Sight) -> SightView | OwnerSightView:
    game = GameView.of(sight.game)
    if sight.pending is None:
        return SightView(game, sight.viewer_role)
    return OwnerSightView(
        game,
        sight.viewer_role,
        [ApplicationView.of(row) for row in sight.pending.applications],
        [InviteView.of(row) for row in sight.pending.invites],
    )


@dataclass(frozen=True, slots=True)
class AdminGameView:
    game: GameView
    memberships: list[MembershipView]
    applications: list[ApplicationView]
    invites: list[InviteView]

    @classmethod
    def of(cls, record: GameRecord) -> AdminGameView:
        return cls(
            game=GameView.of(record.game),
            memberships=[MembershipView.of(row) for row in record.memberships],
            applications=[ApplicationView.of(row) for row in record.pending.applications],
            invites=[InviteView.of(row) for row in record.pending.invites],
        )


# What applying, deciding and answering an invite answer (the schema Enrollment): the
# application or the invite as it now stands, and the seat it gave, or null.


@dataclass(frozen=True, slots=True)
class ApplicationEnrollmentView:
    application: ApplicationView
    membership: MembershipView | None

    @classmethod
    def of(cls, applied: Applied) -> ApplicationEnrollmentView:
        return cls(ApplicationView.of(applied.application), _seat(applied.membership))


@dataclass(frozen=True, slots=True)
class InviteEnrollmentView:
    invite: InviteView
    membership: MembershipView | None

    @classmethod
    def of(cls, answered: Answered) -> InviteEnrollmentView:
        return cls(InviteView.of(answered.invite), _seat(answered.membership))


@dataclass(frozen=True, slots=True)
class RaceNameView:
    name_id: str
    name: str
    canonical: str
    status: str
    owner_user_id: str
    game_id: str | None
    expires_at: str | None
    registered_at: str | None
    created_at: str

    @classmethod
    def of(cls, row: RaceNameRow) -> RaceNameView:
        return cls(
            name_id=text_id(row.name_id),
            name=row.name,
            canonical=row.canonical,
            status=row.status,
            owner_user_id=text_id(row.owner_user_id),
            game_id=maybe_text_id(row.game_id),
            expires_at=maybe_time(row.expires_at),
            registered_at=maybe_time(row.registered_at),
            created_at=time(row.created_at),
        )
