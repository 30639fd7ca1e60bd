"""What a game actor needs from the rest of the service, in one place."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import trio

from galaxy.clients.containers import ContainerDriver
from galaxy.clients.engine import EngineClient, EngineStatus, OrderResult, Report, Seat, Verdict
from galaxy.services.history import History
from galaxy.services.lobby import LobbyEvents
from galaxy.services.notifications import Notifier
from galaxy.services.runtime.ownership import Ownership
from galaxy.services.runtime.versions import EngineVersions
from galaxy.store.database import Database
from galaxy.telemetry import Telemetry


class EngineApi(Protocol):
    """The engine calls a game actor makes (EngineClient; a stand-in in the benchmark)."""

    async def healthz(self) -> bool: ...
    async def status(self) -> EngineStatus: ...
    async def init(
        self, game_id: str, seats: Sequence[Seat], settings: Mapping[str, object] | None = None
    ) -> EngineStatus: ...
    async def turn(self) -> EngineStatus: ...
    async def banish(self, race_name: str) -> EngineStatus: ...
    async def command(
        self, race_name: str, commands: Sequence[Mapping[str, object]]
    ) -> list[Verdict]: ...
    async def order(
        self, race_name: str, turn: int, orders: Sequence[Mapping[str, object]]
    ) -> OrderResult: ...
    async def report(self, race_name: str, turn: int | None = None) -> Report: ...
    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class RuntimeSettings:
    state_root: Path
    probe_interval: float
    probe_failures: int
    start_timeout: float
    call_timeout: float
    probe_timeout: float
    long_operations: int = 4  # BACKEND_RUNTIME_WORKER_POOL_SIZE: engines starting at once
    mailbox: int = 64  # BACKEND_RUNTIME_JOB_QUEUE_SIZE: a game actor's mailbox
    # Settings every new game's engine gets at init, over the defaults (tests use a tiny
    # `turnLimit` to play a game to its end in a few turns).
    engine_settings: Mapping[str, object] = field(default_factory=dict)


@dataclass
class RuntimeDeps:
    db: Database
    driver: ContainerDriver
    versions: EngineVersions
    lobby: LobbyEvents
    notifier: Notifier
    settings: RuntimeSettings
    client_factory: Callable[[str], EngineApi] | None = None
    long_operations: trio.CapacityLimiter | None = None
    telemetry: Telemetry | None = None
    # This instance's game leases; None: no fencing (one process, tests, the benchmark).
    ownership: Ownership | None = None
    # The console's history (completed turns and their durations); None: not kept.
    history: History | None = None

    def __post_init__(self) -> None:
        if self.long_operations is None:
            self.long_operations = trio.CapacityLimiter(self.settings.long_operations)

    def count_operation(self, op: str, outcome: str) -> None:
        if self.telemetry is not None:
            self.telemetry.counter(
                "runtime_container_ops_total", "Runtime operations by op and outcome"
            ).add(1, {"op": op, "outcome": outcome})

    def count_probe(self, outcome: str) -> None:
        if self.telemetry is not None:
            self.telemetry.counter(
                "runtime_health_probes_total", "Engine health probes by outcome"
            ).add(1, {"outcome": outcome})

    def client(self, endpoint: str, *, epoch: int | None = None) -> EngineApi:
        """The engine's client; with the game's lease `epoch`, its writes are fenced."""
        if self.client_factory is not None:
            return self.client_factory(endpoint)
        return EngineClient(
            endpoint,
            call_timeout=self.settings.call_timeout,
            probe_timeout=self.settings.probe_timeout,
            epoch=epoch,
        )

    def state_dir(self, game_id: uuid.UUID) -> Path:
        return self.settings.state_root / str(game_id)
