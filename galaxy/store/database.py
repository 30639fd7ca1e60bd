"""The database: psycopg's async pool, reached from trio with one crossing per unit of work.

`Database.run(work)` crosses to asyncio once, takes a pooled connection, runs
`work(conn)` inside one transaction and commits. Driver errors become domain
errors here and nowhere else: a lost or unreachable server is
`DatabaseUnavailable` (HTTP 503), a UNIQUE violation is `Conflict` (409).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import psycopg.errors
import psycopg_pool
import structlog
from opentelemetry import trace
from psycopg.rows import class_row

from galaxy.bridge import current_asyncio_loop, to_asyncio
from galaxy.domain.dsn import normalize_dsn
from galaxy.domain.errors import Conflict, DatabaseUnavailable, InvalidInput

T = TypeVar("T")
Connection = psycopg.AsyncConnection[Any]
Work = Callable[[Connection], Awaitable[T]]

log = structlog.get_logger("galaxy.store")
tracer = trace.get_tracer("galaxy.store")


@dataclass(frozen=True)
class PoolStats:
    size: int
    available: int
    in_use: int
    waiting: int
    acquires_total: int
    waits_total: int


class Database:
    """A connection pool owned by the application; open it, run work, close it last."""

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 2,
        max_size: int = 25,
        operation_timeout: float = 5.0,
    ) -> None:
        conninfo = normalize_dsn(dsn)
        # statement_timeout bounds each statement on the server; the pool
        # timeout bounds the wait for a free connection.
        options = f"-c statement_timeout={int(operation_timeout * 1000)}"
        self.dsn = conninfo
        self._operation_timeout = operation_timeout
        self._pool = psycopg_pool.AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=operation_timeout,
            open=False,
            kwargs={"options": _merge_options(conninfo, options)},
            name="galaxy",
        )
        self._acquires = 0
        self._loop: Any = None  # the asyncio loop the pool lives on, set by open()

    async def open(self, wait_timeout: float = 10.0) -> None:
        """Open the pool and wait until one connection works, or raise DatabaseUnavailable."""

        async def open_pool() -> None:
            await self._pool.open()
            async with self._pool.connection(timeout=wait_timeout) as conn:
                await conn.execute("select 1")

        self._loop = current_asyncio_loop()
        try:
            await to_asyncio(open_pool, self._loop)()
        except (psycopg_pool.PoolTimeout, psycopg.OperationalError) as error:
            await self.close()
            raise DatabaseUnavailable(
                f"PostgreSQL did not accept a connection within {wait_timeout:g}s"
            ) from error

    async def close(self) -> None:
        await to_asyncio(self._pool.close, self._loop)()

    async def run(self, work: Work[T], *, name: str = "db.unit_of_work") -> T:
        """Run `work` in one transaction on one pooled connection: one bridge crossing."""
        self._acquires += 1
        with tracer.start_as_current_span(name, attributes={"db.system": "postgresql"}):
            return await to_asyncio(self._run_on_asyncio, self._loop)(work)

    async def _run_on_asyncio(self, work: Work[T]) -> T:
        try:
            async with self._pool.connection() as conn, conn.transaction():
                return await work(conn)
        except psycopg.errors.UniqueViolation as error:
            raise Conflict(_constraint_message(error), code="already_exists") from error
        except psycopg.errors.QueryCanceled as error:
            raise DatabaseUnavailable("a database statement timed out") from error
        except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as error:
            raise InvalidInput(_constraint_message(error)) from error
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as error:
            log.warning("db.unavailable", error=str(error).splitlines()[0] if str(error) else "")
            raise DatabaseUnavailable("the database is unavailable") from error

    async def ping(self, timeout: float = 1.0) -> bool:  # noqa: ASYNC109 - bounds the pool wait too
        """True when a connection answers `select 1` within `timeout`."""

        async def select_one() -> bool:
            async with self._pool.connection(timeout=timeout) as conn:
                await conn.execute("select 1")
            return True

        try:
            return await to_asyncio(select_one, self._loop)()
        except (psycopg.Error, psycopg_pool.PoolTimeout, OSError):
            return False

    def stats(self) -> PoolStats:
        raw = self._pool.get_stats()
        size = raw.get("pool_size", 0)
        available = raw.get("pool_available", 0)
        return PoolStats(
            size=size,
            available=available,
            in_use=size - available,
            waiting=raw.get("requests_waiting", 0),
            acquires_total=self._acquires,
            waits_total=raw.get("requests_queued", 0),
        )


async def fetch_all(conn: Connection, row: type[T], query: str, params: Any = None) -> list[T]:
    """Run a named query and map every row to the frozen dataclass `row`."""
    async with conn.cursor(row_factory=class_row(row)) as cursor:
        await cursor.execute(query, params)
        return await cursor.fetchall()


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
    cursor = await conn.execute(query, params)
    row: Any = await cursor.fetchone()
    return int(row[0])


async def fetch_one(conn: Connection, row: type[T], query: str, params: Any = None) -> T | None:
    async with conn.cursor(row_factory=class_row(row)) as cursor:
        await cursor.execute(query, params)
        return await cursor.fetchone()


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
