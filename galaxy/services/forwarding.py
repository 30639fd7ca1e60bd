"""Requests reach a game's owner: where a call that must be serialised with the game
goes, and the one hop that takes it there (issue 20, docs/architecture.md,
"Forwarding to the owner").

Any instance accepts any request; a call that needs the game's actor (an
order, a command, a turn or runtime operation) is served by the holder of
the game's lease. `route` decides, for one game:

- this run holds the lease (in memory: no statement), or the game has no
  runtime record, no live one, or was never leased: served here, as before
  (the local code answers 404, or claims a game nobody ever held);
- another instance holds a live lease and its live registration has an
  address: forwarded there;
- the lease is held by nobody (released on a clean stop, lapsed after a crash,
  not yet claimed), or its holder has no live registration or no address:
  unavailable, 503 `not_owner` with `Retry-After` (`NotOwner.retry_after`): the
  placement rounds of the others claim it within one renewal interval.

`send` makes the hop with httpx (a new connection each time; the HTTP edge's own
vocabulary for failures): the owner could not be reached → 503 `not_owner`,
retryable, nothing was done there; no answer in time, or a broken one, after
the request went out → 504 `owner_timeout` / 502 `owner_failure`: the owner
may have acted, the caller must look before retrying.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx
import structlog

from galaxy.domain.errors import NotOwner, Timeout, UpstreamFailure
from galaxy.store import owners as store
from galaxy.store.database import Connection, Database
from galaxy.store.owners import GameOwner
from galaxy.telemetry import TRACE_HEADERS, Telemetry, trace_headers

log = structlog.get_logger("galaxy.forwarding")

FORWARDED_BY = "x-galaxy-forwarded-by"
CONNECT_TIMEOUT = 2.0  # a live instance accepts at once; longer means it is gone
# Request and response headers that belong to one connection (RFC 9110 §7.6.1), and
# the ones httpx sets itself for the hop; the forwarded-by header is set anew.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        FORWARDED_BY,
    }
)
# The edge of the instance that answers the caller sets these itself (the request id
# is the caller's edge's, sent on to the owner, so both access lines carry it).
ANSWER_DROPS = HOP_BY_HOP | {"x-request-id", "date", "server"}


class Where(enum.Enum):
    HERE = "here"
    OWNER = "owner"
    NOBODY = "nobody"  # a hand-over is under way


@dataclass(frozen=True)
class Route:
    where: Where
    address: str | None = None  # the owner's base URL, for OWNER
    holder: str | None = None  # the owner's instance id, for OWNER
    reason: str = ""  # why NOBODY, for the log


@dataclass(frozen=True)
class Answer:
    """The owner's answer, as it came (minus hop-by-hop headers)."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class OwnerHeld(Protocol):
    """What this run holds: the runtime's `Ownership` (its in-memory leases)."""

    def epoch_of(self, game_id: uuid.UUID) -> int | None: ...


def handing_over(detail: str) -> NotOwner:
    return NotOwner(f"the game is changing hands ({detail}); retry shortly", code="not_owner")


class Forwarding:
    def __init__(
        self,
        db: Database,
        held: OwnerHeld | None,
        *,
        instance_id: str,
        read_timeout: float,
        telemetry: Telemetry,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.db = db
        self.held = held  # None: no leases (every game is served here)
        self.instance_id = instance_id
        self.outcomes = telemetry.tally(
            "forwarded_requests_total",
            "Calls for a game owned elsewhere, by outcome (forwarded, handing_over, "
            "unreachable, timeout, failed, refused_second_hop)",
            label="outcome",
        )
        # The caller's own timeouts bound the wait; an operation may start an engine.
        # A connection of its own per hop, none kept alive: an owner that stops closes its
        # idle keep-alive connections, and a request sent on one at that moment is reset
        # with nobody knowing whether the owner acted (502, seen in a rolling restart). On
        # a new connection a stopping owner refuses it (503 `not_owner`, nothing done) or
        # reads the request and answers it (503 `shutting_down`). A connect on the
        # instances' network costs less than the hop's statement.
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT),
            transport=transport,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self.counts: dict[str, int] = {}

    def count(self, outcome: str) -> None:
        self.outcomes.add(outcome)
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    async def route(self, game_id: uuid.UUID) -> Route:
        if self.held is None or self.held.epoch_of(game_id) is not None:
            return Route(Where.HERE)

        async def read(conn: Connection) -> GameOwner | None:
            return await store.owner(conn, game_id)

        owner = await self.db.run(read, name="forwarding.owner")
        if owner is None or not owner.record_live or not owner.leased:
            return Route(Where.HERE)
        if owner.holder is None:
            return Route(Where.NOBODY, reason="no live lease")
        if owner.holder == self.instance_id:
            # This run's (claimed just now), or an earlier run's of this id that the
            # local code claims on its first use.
            return Route(Where.HERE)
        if owner.address is None:
            return Route(Where.NOBODY, reason=f"{owner.holder} has no live address")
        return Route(Where.OWNER, address=owner.address, holder=owner.holder)

    async def send(
        self,
        route: Route,
        method: str,
        target: str,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
    ) -> Answer:
        """The request, as it came, to the owner; its answer as it came back."""
        assert route.address is not None
        outgoing = [
            (name, value)
            for name, value in headers
            if name.decode("latin-1").lower() not in HOP_BY_HOP | TRACE_HEADERS
        ]
        outgoing.append((FORWARDED_BY.encode(), self.instance_id.encode()))
        # The owner's server span is a child of this edge's: the call is one trace.
        outgoing.extend(trace_headers())
        try:
            response = await self._http.request(
                method, f"{route.address}{target}", headers=outgoing, content=body
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            self.count("unreachable")
            log.warning(
                "forwarding.owner_unreachable",
                owner=route.holder,
                address=route.address,
                error=str(error),
            )
            raise handing_over(f"its owner {route.holder} cannot be reached") from error
        except httpx.TimeoutException as error:
            self.count("timeout")
            log.warning("forwarding.owner_timeout", owner=route.holder, target=target)
            raise Timeout(
                f"the game's owner {route.holder} did not answer in time; it may have acted",
                code="owner_timeout",
            ) from error
        except httpx.HTTPError as error:
            self.count("failed")
            log.warning("forwarding.owner_failed", owner=route.holder, error=str(error))
            raise UpstreamFailure(
                f"the game's owner {route.holder} did not answer properly; it may have acted",
                code="owner_failure",
            ) from error
        self.count("forwarded")
        answered = [
            (name.lower(), value)
            for name, value in response.headers.raw
            if name.decode("latin-1").lower() not in ANSWER_DROPS
        ]
        return Answer(response.status_code, answered, response.content)

    async def aclose(self) -> None:
        await self._http.aclose()
