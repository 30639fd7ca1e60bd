"""The backend's client of one game engine (engine-openapi.yaml), over httpx.

One method per endpoint. Writes (init, turn, banish, command, order) wait up
to `BACKEND_ENGINE_CALL_TIMEOUT`, reads (status, report, healthz) up to
`BACKEND_ENGINE_PROBE_TIMEOUT`. Every failure is one of four errors:
`EngineUnreachable` (no connection), `EngineTimeout`, `EngineRejected` (a 4xx,
with the engine's reason), `EngineFailure` (a 5xx or a body off contract).
httpx runs on trio directly: no bridge crossing.

A client made with the game's lease `epoch` sends it on every write (header
`Galaxy-Owner-Epoch`, ENGINE.md "Fencing"); the engine's 409 `stale_owner`
becomes `StaleOwner`: this instance is no longer the game's owner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from galaxy.domain.errors import (
    EngineFailure,
    EngineRejected,
    EngineTimeout,
    EngineUnreachable,
    StaleOwner,
)

Report = dict[str, Any]
tracer = trace.get_tracer("galaxy.engine_client")
EPOCH_HEADER = "Galaxy-Owner-Epoch"


@dataclass(frozen=True)
class RaceStatus:
    name: str
    player_id: str
    status: str
    planets: int
    population: float
    industry: float
    tech: Mapping[str, float]
    initial_planets: int
    initial_population: float


@dataclass(frozen=True)
class EngineStatus:
    game_id: str
    turn: int
    phase: str
    turn_limit: int
    races: tuple[RaceStatus, ...]
    winner: str | None

    @property
    def finished(self) -> bool:
        return self.phase == "finished"


@dataclass(frozen=True)
class Verdict:
    index: int
    accepted: bool
    reason: str | None


@dataclass(frozen=True)
class OrderResult:
    race_name: str
    turn: int
    verdicts: tuple[Verdict, ...]


@dataclass(frozen=True)
class Seat:
    """A race in the game and the player who plays it."""

    race_name: str
    player_id: str


class EngineClient:
    def __init__(
        self,
        base_url: str,
        *,
        call_timeout: float,
        probe_timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        epoch: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.epoch = epoch  # the caller's lease epoch, sent on every write
        self._call_timeout = call_timeout
        self._probe_timeout = probe_timeout
        self._http = httpx.AsyncClient(base_url=self.base_url, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    # -- reads -------------------------------------------------------------------

    async def healthz(self) -> bool:
        body = await self._call("GET", "/healthz", probe=True)
        return bool(body.get("status") == "ok")

    async def status(self) -> EngineStatus:
        return _status(await self._call("GET", "/api/v1/admin/status", probe=True))

    async def report(self, race_name: str, turn: int | None = None) -> Report:
        params: dict[str, Any] = {"race": race_name}
        if turn is not None:
            params["turn"] = turn
        return await self._call("GET", "/api/v1/report", probe=True, params=params)

    # -- writes ------------------------------------------------------------------

    async def init(
        self, game_id: str, seats: Sequence[Seat], settings: Mapping[str, Any] | None = None
    ) -> EngineStatus:
        body = {
            "gameId": game_id,
            "races": [{"raceName": s.race_name, "playerId": s.player_id} for s in seats],
            "settings": dict(settings or {}),
        }
        return _status(await self._call("POST", "/api/v1/admin/init", json=body))

    async def turn(self) -> EngineStatus:
        return _status(await self._call("PUT", "/api/v1/admin/turn"))

    async def banish(self, race_name: str) -> EngineStatus:
        body = {"raceName": race_name}
        return _status(await self._call("POST", "/api/v1/admin/race/banish", json=body))

    async def command(self, race_name: str, commands: Sequence[Mapping[str, Any]]) -> list[Verdict]:
        body = {"raceName": race_name, "commands": list(commands)}
        answer = await self._call("PUT", "/api/v1/command", json=body)
        return _verdicts(answer)

    async def order(
        self, race_name: str, turn: int, orders: Sequence[Mapping[str, Any]]
    ) -> OrderResult:
        body = {"raceName": race_name, "turn": turn, "orders": list(orders)}
        answer = await self._call("PUT", "/api/v1/order", json=body)
        try:
            return OrderResult(answer["raceName"], answer["turn"], tuple(_verdicts(answer)))
        except (KeyError, TypeError) as error:
            raise EngineFailure(f"the engine's order answer is off contract: {error!r}") from None

    # -- the one place that talks HTTP -------------------------------------------

    async def _call(
        self, method: str, path: str, *, probe: bool = False, **kwargs: Any
    ) -> dict[str, Any]:
        timeout = self._probe_timeout if probe else self._call_timeout
        if not probe and self.epoch is not None:  # reads are never fenced
            kwargs["headers"] = {EPOCH_HEADER: str(self.epoch)}
        try:
            with tracer.start_as_current_span(
                f"engine {method} {path}",
                kind=SpanKind.CLIENT,
                attributes={"http.request.method": method, "url.full": f"{self.base_url}{path}"},
            ):
                response = await self._http.request(method, path, timeout=timeout, **kwargs)
        except httpx.TimeoutException:
            raise EngineTimeout(
                f"the engine did not answer {method} {path} within {timeout:g}s"
            ) from None
        except httpx.TransportError as failure:
            # The message reaches players (503): the kind of failure, never the engine's
            # internal address; the span and the runtime's log lines carry the rest.
            raise EngineUnreachable(
                f"the game's engine is unreachable ({type(failure).__name__})"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise EngineFailure(
                f"the engine answered {method} {path} {response.status_code} without a JSON object"
            )
        if 400 <= response.status_code < 500:
            found = body.get("error")
            refusal: dict[str, Any] = found if isinstance(found, dict) else {}
            if response.status_code == 409 and refusal.get("code") == "stale_owner":
                raise StaleOwner(
                    f"the game's engine refused {method} {path}: "
                    f"{refusal.get('message') or 'a newer owner has called it'}"
                )
            raise EngineRejected(
                str(refusal.get("message") or f"the engine refused {method} {path}"),
                status=response.status_code,
                engine_code=str(refusal.get("code") or "rejected"),
                results=body.get("results") if isinstance(body.get("results"), list) else None,
            )
        if response.status_code >= 300:
            raise EngineFailure(f"the engine answered {method} {path} with {response.status_code}")
        return body


def rejected_commands(error: EngineRejected) -> list[Verdict] | None:
    """The engine's per-command verdicts when it refused a batch of commands (PUT
    /api/v1/command answers 400 `commands_rejected` with `results`, and applies none);
    None for any other refusal, or verdicts off contract."""
    if error.engine_code != "commands_rejected" or not error.results:
        return None
    try:
        return _verdicts({"results": error.results})
    except EngineFailure:
        return None


def _verdicts(answer: dict[str, Any]) -> list[Verdict]:
    try:
        return [
            Verdict(r["index"], r["status"] == "accepted", r.get("reason"))
            for r in answer["results"]
        ]
    except (KeyError, TypeError) as error:
        raise EngineFailure(f"the engine's verdicts are off contract: {error!r}") from None


def _status(body: dict[str, Any]) -> EngineStatus:
    try:
        return EngineStatus(
            game_id=body["gameId"],
            turn=body["turn"],
            phase=body["phase"],
            turn_limit=body["turnLimit"],
            winner=body.get("winner"),
            races=tuple(
                RaceStatus(
                    name=r["name"],
                    player_id=r["playerId"],
                    status=r["status"],
                    planets=r["planets"],
                    population=r["population"],
                    industry=r["industry"],
                    tech=dict(r["tech"]),
                    initial_planets=r["initialPlanets"],
                    initial_population=r["initialPopulation"],
                )
                for r in body["races"]
            ),
        )
    except (KeyError, TypeError) as error:
        raise EngineFailure(f"the engine's status is off contract: {error!r}") from None
