"""The leased outbox's SQL, written once: claim due rows under a lease, then settle them.

Mail deliveries, notification routes and diplomatic-mail translations are
three queues of one shape: rows wait in a `due` status until
`next_attempt_at`, a worker claims a batch with `FOR UPDATE SKIP LOCKED`
(so concurrent workers never take the same row) and a lease, and every
claimed row is then settled as sent, retried later, or dead-lettered.

A queue describes its table (`OutboxTable`) and writes only what is its own:
the columns a claim returns and the columns each settle verb sets. The shape
(due condition, lease, fencing, the lease's release) is built here once, at
import, from code-owned names, so no caller's value is ever formatted in.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from galaxy.store.database import Connection, fetch_all

T = TypeVar("T")
Item = TypeVar("Item")

# Names and status literals are formatted into the SQL, so they must be plain words.
_WORD = re.compile(r"^[a-z_][a-z0-9_]*$")


class Outcome(enum.Enum):
    """How a claimed row is settled."""

    SENT = "sent"  # done: the send step succeeded
    RETRY = "retry"  # failed this time: due again after a backoff
    DEAD = "dead"  # failed for good: dead-lettered (or the queue's fallback)


@dataclass(frozen=True)
class Settlement(Generic[Item]):
    """One claimed row's settle, decided by the worker and written with its batch."""

    item: Item
    outcome: Outcome
    attempt: int  # the number of this attempt within its retry cycle (1-based)
    error: str | None = None
    delay: float = 0.0  # seconds until the row is due again (RETRY only)
    label: str = "sent"  # what happened, for attempts logs and metrics (sent, failed, …)


@dataclass(frozen=True)
class OutboxTable:
    """What the shared SQL needs to know of a queue's table.

    `leased` tables hold `locked_by` (this process run) and `lease_until`; a
    row whose holder died is claimable again once its lease ends, and settles
    are fenced by `locked_by`, so a worker that outlived its lease cannot
    overwrite the new holder's work. A table without those columns (the
    diplomatic-mail recipients) leases by moving `next_attempt_at` forward,
    and its settles are fenced by the row still being due.
    """

    name: str
    key: tuple[str, ...]
    due: tuple[str, ...]
    leased: bool = True

    def __post_init__(self) -> None:
        for word in (self.name, *self.key, *self.due):
            if not _WORD.match(word):
                raise ValueError(f"not a plain SQL name: {word!r}")


@dataclass(frozen=True)
class OutboxQueries:
    """The claim and the three settle verbs of one queue."""

    claim: str
    sent: str
    retry: str
    dead: str

    def verb(self, outcome: Outcome) -> str:
        match outcome:
            case Outcome.SENT:
                return self.sent
            case Outcome.RETRY:
                return self.retry
            case Outcome.DEAD:
                return self.dead


def outbox_queries(
    table: OutboxTable,
    *,
    returning: str,
    sent: str,
    retry: str,
    dead: str,
    join: str = "",
    join_on: str = "",
    dead_returning: str = "",
) -> OutboxQueries:
    """The queue's SQL from its table and its own fragments.

    The claimed row is `t` in `returning`; `join`/`join_on` add tables a claim
    reads from (the notification a route belongs to). `sent`, `retry` and
    `dead` are the queue's SET columns for each verb; the shared part adds
    `next_attempt_at` and `last_error` on retry, `last_error` on dead, and the
    lease's release. Every verb takes the key columns and `owner` as
    parameters; retry also `delay_seconds`, retry and dead also `error`.
    """
    statuses = ", ".join(f"'{status}'" for status in table.due)
    keys = ", ".join(table.key)
    if table.leased:
        free = "\n      AND (lease_until IS NULL OR lease_until < now())"
        lease = (
            "locked_by = %(owner)s, lease_until = now() + make_interval(secs => %(lease_seconds)s)"
        )
        release = ", locked_by = NULL, lease_until = NULL"
        fence = "t.locked_by = %(owner)s"
    else:
        free = ""
        lease = "next_attempt_at = now() + make_interval(secs => %(lease_seconds)s)"
        release = ""
        fence = f"t.status IN ({statuses})"
    matched = " AND ".join(f"t.{k} = due.{k}" for k in table.key)
    claim = f"""
WITH due AS (
    SELECT {keys} FROM {table.name}
    WHERE status IN ({statuses})
      AND next_attempt_at <= now(){free}
    ORDER BY next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {table.name} AS t
SET {lease}
FROM due{join}
WHERE {matched}{f" AND {join_on}" if join_on else ""}
RETURNING {returning}
"""
    by_key = " AND ".join(f"t.{k} = %({k})s" for k in table.key)

    def settle(columns: str, returned: str = "") -> str:
        tail = f"\nRETURNING {returned}" if returned else ""
        return f"""
UPDATE {table.name} AS t
SET {columns}{release}
WHERE {by_key} AND {fence}{tail}
"""

    return OutboxQueries(
        claim=claim,
        sent=settle(sent),
        retry=settle(
            f"{retry}, last_error = %(error)s,"
            " next_attempt_at = now() + make_interval(secs => %(delay_seconds)s)"
        ),
        dead=settle(f"{dead}, last_error = %(error)s", dead_returning),
    )


async def claim(
    conn: Connection,
    queries: OutboxQueries,
    row: type[T],
    *,
    owner: str,
    limit: int,
    lease_seconds: float,
) -> list[T]:
    """Lease up to `limit` due rows to `owner`, oldest due first, skipping rows others hold."""
    params = {"owner": owner, "limit": limit, "lease_seconds": lease_seconds}
    return await fetch_all(conn, row, queries.claim, params)


async def settle(
    conn: Connection,
    queries: OutboxQueries,
    settlement: Settlement[Any],
    params: Mapping[str, Any],
) -> tuple[Any, ...] | None:
    """Apply one row's settle verb; the row it returned (its `dead_returning` for a dead
    letter, else an empty tuple), or None when the lease was lost to another holder."""
    values = {
        **params,
        "error": settlement.error,
        "delay_seconds": settlement.delay,
    }
    cursor = await conn.execute(queries.verb(settlement.outcome), values)
    if cursor.rowcount < 1:
        return None
    if cursor.description is None:
        return ()
    row: tuple[Any, ...] | None = await cursor.fetchone()
    return row
