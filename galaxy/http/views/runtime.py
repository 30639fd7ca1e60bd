"""Views of the runtime surfaces: `/api/v1/admin/runtimes/*`, `/engine-versions/*`, and a
player's engine calls (`/api/v1/user/games/{game_id}/*`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from galaxy.clients.engine import OrderResult, Verdict
from galaxy.http.views.base import maybe_time, text_id, time
from galaxy.services.runtime.game import GameState, Probe
from galaxy.services.runtime.service import RuntimeDescription
from galaxy.store.runtime import EngineVersionRow, OperationRow, PlayerMappingRow, RuntimeRow


@dataclass(frozen=True, slots=True)
class EngineVersionView:
    version: str
    image_ref: str
    enabled: bool
    is_default: bool
    notes: str
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, row: EngineVersionRow) -> EngineVersionView:
        return cls(
            version=row.version,
            image_ref=row.image_ref,
            enabled=row.enabled,
            is_default=row.is_default,
            notes=row.notes,
            created_at=time(row.created_at),
            updated_at=time(row.updated_at),
        )


@dataclass(frozen=True, slots=True)
class EngineVersionsView:
    items: list[EngineVersionView]

    @classmethod
    def of(cls, rows: Sequence[EngineVersionRow]) -> EngineVersionsView:
        return cls([EngineVersionView.of(row) for row in rows])


@dataclass(frozen=True, slots=True)
class RuntimeRecordView:
    game_id: str
    driver: str
    status: str
    engine_version: str
    image_ref: str
    container_id: str | None
    endpoint: str | None
    turn: int
    next_turn_at: str | None
    skip_next_turn: bool
    probe_failures: int
    last_error: str | None
    started_at: str | None
    stopped_at: str | None
    last_observed_at: str | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, row: RuntimeRow) -> RuntimeRecordView:
        return cls(
            game_id=text_id(row.game_id),
            driver=row.driver,
            status=row.status,
            engine_version=row.engine_version,
            image_ref=row.image_ref,
            container_id=row.container_id,
            endpoint=row.endpoint,
            turn=row.turn,
            next_turn_at=maybe_time(row.next_turn_at),
            skip_next_turn=row.skip_next_turn,
            probe_failures=row.probe_failures,
            last_error=row.last_error,
            started_at=maybe_time(row.started_at),
            stopped_at=maybe_time(row.stopped_at),
            last_observed_at=maybe_time(row.last_observed_at),
            created_at=time(row.created_at),
            updated_at=time(row.updated_at),
        )


@dataclass(frozen=True, slots=True)
class OperationView:
    operation_id: str
    game_id: str
    op: str
    status: str
    detail: str
    error: str | None
    started_at: str
    finished_at: str | None

    @classmethod
    def of(cls, row: OperationRow) -> OperationView:
        return cls(
            operation_id=text_id(row.operation_id),
            game_id=text_id(row.game_id),
            op=row.op,
            status=row.status,
            detail=row.detail,
            error=row.error,
            started_at=time(row.started_at),
            finished_at=maybe_time(row.finished_at),
        )


@dataclass(frozen=True, slots=True)
class PlayerView:
    game_id: str
    user_id: str
    race_name: str
    engine_player_uuid: str

    @classmethod
    def of(cls, row: PlayerMappingRow) -> PlayerView:
        return cls(
            game_id=text_id(row.game_id),
            user_id=text_id(row.user_id),
            race_name=row.race_name,
            engine_player_uuid=text_id(row.engine_player_uuid),
        )


@dataclass(frozen=True, slots=True)
class ActorStateView:
    """The game actor's state in memory (`Describe`), as inspection shows it."""

    game_id: str
    status: str | None
    turn: int | None
    endpoint: str | None
    turns_run: int
    probe_failures: int
    next_turn_in: float | None

    @classmethod
    def of(cls, state: GameState) -> ActorStateView:
        return cls(
            game_id=text_id(state.game_id),
            status=state.status,
            turn=state.turn,
            endpoint=state.endpoint,
            turns_run=state.turns_run,
            probe_failures=state.probe_failures,
            next_turn_in=state.next_turn_in,
        )


@dataclass(frozen=True, slots=True)
class ProbeView:
    at: str
    ok: bool
    detail: str

    @classmethod
    def of(cls, probe: Probe) -> ProbeView:
        return cls(at=time(probe.at), ok=probe.ok, detail=probe.detail)


@dataclass(frozen=True, slots=True)
class RuntimeView:
    record: RuntimeRecordView
    operations: list[OperationView]
    players: list[PlayerView]
    actor: ActorStateView | None
    # The owner's game actor's last probe; null with no probe since it started (or no actor).
    last_probe: ProbeView | None

    @classmethod
    def of(cls, described: RuntimeDescription) -> RuntimeView:
        actor = described.actor
        probe = actor.last_probe if actor is not None else None
        return cls(
            record=RuntimeRecordView.of(described.record),
            operations=[OperationView.of(row) for row in described.operations],
            players=[PlayerView.of(row) for row in described.players],
            actor=ActorStateView.of(actor) if actor is not None else None,
            last_probe=ProbeView.of(probe) if probe is not None else None,
        )


@dataclass(frozen=True, slots=True)
class VerdictView:
    index: int
    status: str  # accepted | rejected
    reason: str | None

    @classmethod
    def of(cls, verdict: Verdict) -> VerdictView:
        status = "accepted" if verdict.accepted else "rejected"
        return cls(index=verdict.index, status=status, reason=verdict.reason)


@dataclass(frozen=True, slots=True)
class VerdictsView:
    results: list[VerdictView]

    @classmethod
    def of(cls, verdicts: Sequence[Verdict]) -> VerdictsView:
        return cls([VerdictView.of(v) for v in verdicts])


@dataclass(frozen=True, slots=True)
class OrderVerdictsView:
    turn: int
    results: list[VerdictView]

    @classmethod
    def of(cls, result: OrderResult) -> OrderVerdictsView:
        return cls(result.turn, [VerdictView.of(v) for v in result.verdicts])


@dataclass(frozen=True, slots=True)
class ErrorView:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class CommandsRejectedView:
    """The engine refused a batch of commands (none applied): the error body every
    surface answers with, plus the engine's verdict for each command, so the player
    sees which command failed and why."""

    error: ErrorView
    results: list[VerdictView]

    @classmethod
    def of(cls, message: str, verdicts: Sequence[Verdict]) -> CommandsRejectedView:
        return cls(ErrorView("commands_rejected", message), [VerdictView.of(v) for v in verdicts])
