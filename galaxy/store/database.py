"""The database: a trio pool of psycopg connections driven by trio itself.

`Database.run(work)` takes a pooled connection, runs `work(conn)` inside one
transaction (BEGIN … COMMIT) and gives the connection back; `Database.read(work)`
runs `work(conn)` with no transaction around it, for work that issues exactly one
statement (PostgreSQL runs a lone statement in a transaction of its own; several
statements in one `read` would each see a different snapshot). No asyncio is
involved: see `trio_psycopg` (the connection) and `pool` (the pool).

Driver errors become domain errors here and nowhere else: a lost or unreachable
server, a statement past `statement_timeout` or no free connection within the
pool's timeout is `DatabaseUnavailable` (HTTP 503), a UNIQUE violation is
`Conflict` (409), other integrity and data errors are `InvalidInput`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from typing import Any, TypeVar

import psycopg
import psycopg.errors
import structlog
import trio
from opentelemetry import trace
from psycopg import AsyncTransaction
from psycopg.rows import RowMaker

from galaxy.domain.dsn import normalize_dsn
from galaxy.domain.errors import Conflict, DatabaseUnavailable, GalaxyError, InvalidInput
from galaxy.store.pool import ConnectionPool, PoolClosed, PoolConnection, PoolStats, PoolTimeout
from galaxy.store.trio_psycopg import RowsNamed, TrioConnection

__all__ = ["Connection", "Database", "PoolStats", "Work"]

T = TypeVar("T")
# What work functions receive: the pool's connections, psycopg's async connections
# driven by trio (with `fetch`, the lean path of the helpers below).
Connection = TrioConnection[Any]
Work = Callable[[Connection], Awaitable[T]]

log = structlog.get_logger("galaxy.store")
tracer = trace.get_tracer("galaxy.store")
_SPAN_ATTRIBUTES = {"db.system": "postgresql"}

# Between tries while `open()` waits for a server that is still starting.
_OPEN_RETRY = (0.05, 1.0)


class Database:
    """A connection pool owned by the application; open it, run work, close it last."""

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 2,
        max_size: int = 25,
        operation_timeout: float = 5.0,
        max_lifetime: float = 3600.0,
        check_after_idle: float = 30.0,
        origin: str = "",
    ) -> None:
        conninfo = normalize_dsn(dsn)
        # statement_timeout bounds each statement on the server; the pool
        # timeout bounds the wait for a free connection.
        options = f"-c statement_timeout={int(operation_timeout * 1000)}"
        self.dsn = conninfo
        # The instance this pool works for: named in the cache invalidations it sends.
        self.origin = origin
        self._operation_timeout = operation_timeout
        self._pool = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=operation_timeout,
            max_lifetime=max_lifetime,
            check_after_idle=check_after_idle,
            connect_kwargs={"options": _merge_options(conninfo, options)},
        )

    async def open(self, wait_timeout: float = 10.0) -> None:
        """Open the pool and wait until one connection works, or raise DatabaseUnavailable."""
        pause, most = _OPEN_RETRY
        last: Exception | None = None
        with trio.move_on_after(wait_timeout):
            while True:
                try:
                    await self._pool.open()
                    await self.read(_select_one, name="db.open")
                    return
                except (DatabaseUnavailable, PoolTimeout, psycopg.OperationalError) as error:
                    last = error  # the server may still be starting
                await trio.sleep(pause)
                pause = min(pause * 2, most)
        await self.close()
        raise DatabaseUnavailable(
            f"PostgreSQL did not accept a connection within {wait_timeout:g}s"
        ) from last

    async def close(self) -> None:
        await self._pool.aclose()

    async def run(self, work: Work[T], *, name: str = "db.unit_of_work") -> T:
        """Run `work` in one transaction on one pooled connection."""
        return await self._on_connection(partial(_in_transaction, work), name)

    async def read(self, work: Work[T], *, name: str = "db.read") -> T:
        """Run `work`, which issues exactly ONE statement, with no BEGIN/COMMIT around it.

        The statement is its own transaction. Work that issues several statements
        belongs in `run`: here each would see its own snapshot, and a failure
        halfway would leave the earlier ones committed."""
        return await self._on_connection(work, name)

    async def _on_connection(self, work: Callable[[PoolConnection], Awaitable[T]], name: str) -> T:
        """`work` on a pooled connection, its driver errors mapped, the connection given
        back after. (No async context manager: its generator costs a few µs a unit, and
        the hottest reads come this way.)"""
        with _span(name):
            conn = await self._checkout()
            try:
                return await work(conn)
            except psycopg.Error as error:
                if (mapped := _domain_error(error)) is None:
                    raise
                raise mapped from error
            finally:
                self._pool.release(conn)

    async def _checkout(self) -> PoolConnection:
        try:
            return await self._pool.acquire()
        except (PoolTimeout, PoolClosed, psycopg.OperationalError) as error:
            raise _unavailable(error) from error

    async def ping(self, timeout: float = 1.0) -> bool:  # noqa: ASYNC109 - bounds the pool wait too
        """True when a connection answers `select 1` within `timeout`."""
        with trio.move_on_after(timeout):
            try:
                await self.read(_select_one, name="db.ping")
            except DatabaseUnavailable:
                return False
            return True
        return False

    def stats(self) -> PoolStats:
        return self._pool.stats()


async def _in_transaction(work: Work[T], conn: PoolConnection) -> T:
    async with AsyncTransaction(conn):
        try:
            result = await work(conn)
        except BaseException as error:
            if not isinstance(error, Exception):
                # Cancelled (or interrupted) between statements: close rather
                # than spend a round trip on ROLLBACK; the server rolls back.
                conn.discard()
            raise
    return result  # after the COMMIT: a failed commit raises instead


def _span(name: str) -> AbstractContextManager[object]:
    """A child span for a unit of work inside a traced request or job; none outside one.

    An SDK span costs tens of µs, the same order as the unit's own CPU time, so
    work that nothing traces (a sweeper's tick, the no-op tracer) records none
    rather than a root span per unit; inside a request the unit is its child."""
    if trace.get_current_span().is_recording():
        return tracer.start_as_current_span(name, attributes=_SPAN_ATTRIBUTES)
    return _NO_SPAN


_NO_SPAN = nullcontext()


async def _select_one(conn: Connection) -> None:
    await conn.execute("select 1")


def _domain_error(error: psycopg.Error) -> Exception | None:
    """The domain error a driver error stands for; None when it stands for a bug
    (a syntax error, a missing table), which goes up as it is."""
    if isinstance(error, psycopg.errors.UniqueViolation):
        return Conflict(_constraint_message(error), code="already_exists")
    if isinstance(error, psycopg.errors.QueryCanceled):
        return DatabaseUnavailable("a database statement timed out")
    if isinstance(error, psycopg.errors.DataError | psycopg.errors.IntegrityError):
        return InvalidInput(_constraint_message(error))
    if isinstance(error, psycopg.OperationalError):
        return _unavailable(error)
    return None


def _unavailable(error: Exception) -> GalaxyError:
    log.warning("db.unavailable", error=str(error).splitlines()[0] if str(error) else "")
    return DatabaseUnavailable("the database is unavailable")


async def fetch_all(conn: Connection, row: type[T], query: str, params: Any = None) -> list[T]:
    """Run a named query and map every row to the frozen dataclass `row`."""
    return await conn.fetch(query, params, _rows_of(row))


async def fetch_page(
    conn: Connection,
    row: type[T],
    query: str,
    count_query: str,
    limit: int,
    offset: int,
    params: Mapping[str, Any] | None = None,
) -> tuple[list[T], int]:
    """One page of `query` (which takes %(limit)s and %(offset)s besides `params`) and the
    total count of `count_query` (which takes `params`)."""
    given = dict(params or {})
    rows = await fetch_all(conn, row, query, {**given, "limit": limit, "offset": offset})
    return rows, await fetch_count(conn, count_query, given or None)


async def fetch_count(conn: Connection, query: str, params: Any = None) -> int:
    """The single number a `SELECT count(*) ...` answers."""
    (row,) = await conn.fetch(query, params, _tuple_maker, limit=1)
    return int(row[0])


async def fetch_one(conn: Connection, row: type[T], query: str, params: Any = None) -> T | None:
    found = await conn.fetch(query, params, _rows_of(row), limit=1)
    return found[0] if found else None


def _rows_of(row: type[T]) -> RowsNamed[T]:
    """How results become `row`s: for a result's column names, a maker of one row, as
    psycopg's `class_row` (by name), or positional when the columns are the names its
    constructor takes positionally, in order, which saves a dict a row. One function
    per kind of row, kept: `TrioConnection.fetch` keeps the makers it gives per
    prepared statement."""
    found: RowsNamed[T] | None = _ROWS.get(row)
    if found is None:
        fields = _positional_fields(row)

        def found(names: tuple[str, ...]) -> RowMaker[T]:
            if names == fields:
                return lambda values: row(*values)
            return lambda values: row(**dict(zip(names, values, strict=True)))

        _ROWS[row] = found
    return found


_ROWS: dict[type[Any], Any] = {}


def _positional_fields(row: type[Any]) -> tuple[str, ...] | None:
    """The names `row`'s constructor takes positionally, in order (None: it takes
    `*args`, `**kwargs` or a positional-only parameter, or has no signature to read).
    A call with exactly these, in this order, binds each value as the call by name
    would."""
    try:
        parameters = inspect.signature(row).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY) for p in parameters):
        return None
    return tuple(p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD)


def _tuple_maker(_: tuple[str, ...]) -> RowMaker[tuple[Any, ...]]:
    return tuple


def like_literal(text: str) -> str:
    """`text` within a LIKE pattern (with `ESCAPE '\\'`): itself only, `%` and `_` too."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def returned(row: T | None) -> T:
    """The row an INSERT/UPDATE ... RETURNING gave back. Its absence is a broken
    invariant (the row was just written, or is locked by this transaction), not bad
    input, so it is an error of its own rather than an `assert` that -O would drop."""
    if row is None:
        raise RuntimeError("a statement that always returns a row returned none")
    return row


def _merge_options(conninfo: str, extra: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    existing = str(conninfo_to_dict(conninfo).get("options") or "")
    return f"{existing} {extra}".strip()


def _constraint_message(error: psycopg.Error) -> str:
    diag = error.diag
    if diag.constraint_name:
        return f"violates {diag.constraint_name}"
    return diag.message_primary or "invalid data"
