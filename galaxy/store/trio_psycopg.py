"""psycopg driven by trio itself: an `AsyncConnection` whose waits are trio's I/O waits.

psycopg's core is a set of non-blocking generators (send a query, read a
result, connect, cancel) that yield "wait for this fd to be readable/writable"
and a wait function that consumes them. The stock async connection consumes
them on asyncio; `TrioConnection` consumes them with
`trio.lowlevel.wait_readable` / `wait_writable`, so no asyncio loop (and no
trio-asyncio crossing) is on the database path. Everything above the wait
(cursors, transactions, adapters, prepared statements) is psycopg's own.

Cancellation: a trio cancel that lands while a round trip is in flight leaves
the protocol state unknown, so the connection is abandoned: if the server is
running a query, a server-side cancel is sent first (shielded, bounded by
`CANCEL_BUDGET`), then the connection is closed. A pool sees it closed and
drops it; it never goes back mid-transaction.

psycopg is pinned (3.3.9). The private pieces relied on here, each exercised
by tests/store/test_trio_psycopg.py so an upgrade that changes one fails there:

- `BaseConnection._connect_gen(conninfo)`: the (fd, wait) connect generator;
- `BaseConnection._cancel_gen()`: the (fd, wait) generator of a libpq >= 17 cancel;
- `BaseConnection._should_cancel()`;
- `BaseConnection._get_connection_params()` (async classmethod);
- the attributes `connect()` sets as psycopg's does: `_autocommit`,
  `row_factory`, `cursor_factory`, `_adapters`, `prepare_threshold`;
- `AsyncConnection.lock` (replaced by a `ConnectionLock`, a `trio.Lock`), used
  only as `async with conn.lock`, and `AsyncConnection.wait()`
  (overridden: every psycopg operation waits through it);
- `psycopg.waiting._ready`: psycopg's zero-timeout readiness poll;
- `psycopg.errors._WaitTimeout`: what a wait with a timeout raises;
- for `TrioConnection.fetch`, the pieces of `AsyncCursor.execute` it runs without
  a cursor: `psycopg._queries.PostgresQuery`, `psycopg.generators.execute`,
  `psycopg.errors.error_from_result`, `BaseConnection._check_connection_ok()`,
  `_start_query()`, `_pipeline` and `pgconn._encoding`, the prepared-statement
  manager `BaseConnection._prepared` (`get`, `maybe_add_to_cache`, `validate`,
  `_to_flush`, `maintain_gen`; its names are never reused, so a kept loading
  never meets another statement) with its `psycopg._preparing.Prepare`, and the
  connection's `AdaptersMap._register_loader_callback` (set to forget the kept
  transformers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from math import inf
from time import monotonic
from typing import Any, TypeVar, cast
from weakref import ReferenceType, ref

import psycopg.abc
import trio
from psycopg import AsyncConnection, AsyncCursor, capabilities, errors, pq
from psycopg import waiting as psycopg_waiting
from psycopg._preparing import Prepare
from psycopg._queries import PostgresQuery
from psycopg.abc import RV, AdaptContext, ConnDict, ConnParam, Params, PQGen, PQGenConn
from psycopg.adapt import AdaptersMap, Transformer
from psycopg.conninfo import conninfo_attempts, make_conninfo, timeout_from_conninfo
from psycopg.generators import execute
from psycopg.pq.abc import PGresult
from psycopg.rows import AsyncRowFactory, Row, RowMaker, tuple_row
from psycopg.waiting import Ready, Wait

__all__ = ["CANCEL_BUDGET", "ConnectionLock", "TrioConnection", "wait_conn_trio", "wait_trio"]

# How long an interrupted query may take to be cancelled on the server before
# the connection is closed anyway (a closed socket alone does not stop a query:
# PostgreSQL notices a gone client only when it next writes to it).
CANCEL_BUDGET = 1.5

# As psycopg.waiting.MAX_BUSY_TIME: how long waits that never block (a socket
# always writable, results already buffered) may run before yielding to trio.
MAX_BUSY_TIME = 0.005
_last_yield = 0.0

_ready = psycopg_waiting._ready
_ACTIVE = pq.TransactionStatus.ACTIVE
_WAIT_R, _WAIT_W, _WAIT_RW = Wait.R, Wait.W, Wait.RW
_READY_NONE, _READY_R, _READY_W = Ready.NONE, Ready.R, Ready.W
_TUPLES_OK, _FATAL_ERROR = pq.ExecStatus.TUPLES_OK, pq.ExecStatus.FATAL_ERROR
_GOOD_STATUSES = frozenset(
    (_TUPLES_OK, pq.ExecStatus.COMMAND_OK, pq.ExecStatus.EMPTY_QUERY, pq.ExecStatus.COPY_BOTH)
)

_PREPARE_NO, _PREPARE_SHOULD = Prepare.NO, Prepare.SHOULD
# How many ways of loading rows a connection keeps before starting afresh: one per kind
# of row and prepared statement, and psycopg keeps at most 100 statements prepared.
_KEPT_STATEMENTS = 512
# The session settings psycopg's loaders read when they are made.
_LOADER_SETTINGS = (b"TimeZone", b"DateStyle", b"IntervalStyle", b"client_encoding")

T = TypeVar("T")
# What `TrioConnection.fetch` turns a result's column names into: its maker of one row.
RowsNamed = Callable[[tuple[str, ...]], RowMaker[T]]

log = logging.getLogger("galaxy.store.trio_psycopg")


class ConnectionLock:
    """psycopg's per-connection lock on trio: a `trio.Lock` whose uncontended acquire
    does not yield. Every holder goes on to wait on the socket, which yields anyway,
    and a pooled connection has one user at a time, so the scheduler round trip of
    `trio.Lock.acquire` (several per unit of work) would buy nothing. Contended, it
    waits as `trio.Lock` does (FIFO, cancellable)."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = trio.Lock()

    async def __aenter__(self) -> None:
        if not self.try_acquire():
            await self._lock.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()

    def try_acquire(self) -> bool:
        """Taken at once (True), or held by another task (False: `acquire` waits)."""
        try:
            self._lock.acquire_nowait()
        except trio.WouldBlock:
            return False
        return True

    async def acquire(self) -> None:
        await self._lock.acquire()

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()


@dataclass(frozen=True, slots=True)
class _Loading:
    """How `TrioConnection.fetch` loads one prepared statement's rows."""

    transformer: psycopg.abc.Transformer
    maker: RowMaker[Any]
    settings: tuple[bytes | None, ...]  # _LOADER_SETTINGS when its loaders were made


def _adapters_changed(connection: ReferenceType[TrioConnection[Any]], *_: object) -> None:
    if (alive := connection()) is not None:
        alive._kept.clear()


class TrioConnection(AsyncConnection[Row]):
    """A psycopg `AsyncConnection` for trio: every wait is a trio I/O wait."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # psycopg's lock is an asyncio.Lock; cursors and transactions take it.
        self._trio_lock = ConnectionLock()
        self.lock = self._trio_lock  # type: ignore[assignment]
        # How `fetch` loads rows, per (kind of row, prepared statement); forgotten when a
        # loader is registered on the connection (a weak reference: no cycle to collect).
        self._kept: dict[tuple[object, bytes], _Loading] = {}
        self.adapters._register_loader_callback = partial(_adapters_changed, ref(self))

    @classmethod
    async def connect(
        cls,
        conninfo: str = "",
        *,
        autocommit: bool = False,
        prepare_threshold: int | None = 5,
        context: AdaptContext | None = None,
        row_factory: AsyncRowFactory[Row] | None = None,
        cursor_factory: type[AsyncCursor[Row]] | None = None,
        **kwargs: ConnParam,
    ) -> TrioConnection[Row]:
        """Connect as psycopg's `AsyncConnection.connect` does, waiting on trio."""
        params = await cls._get_connection_params(conninfo, **kwargs)
        timeout = timeout_from_conninfo(params)
        conn: TrioConnection[Row] | None = None
        failures: list[tuple[errors.Error, str]] = []
        for attempt in await _attempts(params):
            where = f"host: {attempt.get('host')!r}, port: {attempt.get('port')!r}"
            try:
                conn = await wait_conn_trio(
                    cls._connect_gen(make_conninfo("", **attempt)), timeout=timeout
                )
            except errors._WaitTimeout:
                failures.append((errors.ConnectionTimeout("connection timeout expired"), where))
            except errors.Error as error:
                failures.append((error, where))
            else:
                break
        if conn is None:
            raise _connect_failure(failures)
        conn._autocommit = bool(autocommit)
        if row_factory:
            conn.row_factory = row_factory
        if cursor_factory:
            conn.cursor_factory = cursor_factory
        if context:
            conn._adapters = AdaptersMap(context.adapters)
        conn.prepare_threshold = prepare_threshold
        return conn

    async def wait(
        self,
        gen: PQGen[RV],
        interval: float = 0.1,
        timeout: float | None = None,  # noqa: ASYNC109 - psycopg's signature
    ) -> RV:
        """Consume a psycopg generator on trio; an interruption abandons the connection."""
        try:
            return await wait_trio(gen, self.pgconn.socket, timeout=timeout)
        except BaseException as error:
            if not isinstance(error, Exception):  # trio.Cancelled, KeyboardInterrupt, ...
                await self._abandon()
            raise

    async def fetch(
        self, query: str, params: Params | None, rows: RowsNamed[T], limit: int | None = None
    ) -> list[T]:
        """The rows of one statement (the first `limit` of them), each made by the maker
        `rows(column names)` gives: what a cursor's `execute` then `fetchall` answer,
        by psycopg's own steps (the transaction start, the prepared statements and
        their upkeep, the adapters, the errors) without the cursor around them.

        A read is short, and the cursor's bookkeeping was a third of its CPU here:
        its own transformer and result list, its lock taken as an async context
        (twice), the checks of every fetch, a generator around every wait. `rows`
        is asked once per prepared statement (a prepared statement's columns cannot
        change: the server refuses a plan whose result type changed), so it must be
        the same object for the same kind of row; the loaders are kept with it.
        """
        self._check_connection_ok()
        if self._pipeline:  # psycopg's cursor knows how to queue in a pipeline
            return await self._fetch_by_cursor(query, params, rows, limit)
        transformer = Transformer(self)
        statement = PostgresQuery(transformer)
        statement.convert(query, params)
        lock = self._trio_lock
        if not lock.try_acquire():
            await lock.acquire()
        try:
            result, name = await self._fetch_result(statement)
        finally:
            lock.release()
        if result.status != _TUPLES_OK:
            raise errors.ProgrammingError(
                "the statement answered no rows "
                f"({result.command_status.decode() if result.command_status else result.status})"
            )
        loading = self._loading(result, rows, name, transformer)
        transformer = loading.transformer
        transformer.set_pgresult(result)
        try:
            count = result.ntuples if limit is None else min(limit, result.ntuples)
            return transformer.load_rows(0, count, loading.maker)
        finally:  # a kept transformer must not keep its last result (its rows) alive
            transformer.set_pgresult(None, set_loaders=False)

    async def _fetch_by_cursor(
        self, query: str, params: Params | None, rows: RowsNamed[T], limit: int | None
    ) -> list[T]:
        cursor = self.cursor(row_factory=tuple_row)
        await cursor.execute(query, params)
        found = await (cursor.fetchall() if limit is None else cursor.fetchmany(limit))
        description = cursor.description or []
        maker = rows(tuple(column.name for column in description))
        return [maker(row) for row in found]

    def _loading(
        self, result: PGresult, rows: RowsNamed[T], name: bytes, fresh: psycopg.abc.Transformer
    ) -> _Loading:
        """How this result's rows are loaded: with the transformer and the row maker kept
        for its prepared statement, as a cursor keeps its transformer for a query it runs
        again (the loaders its columns need are made once); else with the `fresh`
        transformer, and a maker made from the result's column names.

        Loaders read session settings when they are made (a `timestamptz` loader the
        time zone, a date's the `DateStyle`, an interval's the `IntervalStyle`, a
        text's the encoding), so a change of any of them starts afresh; so does a
        loader registered on the connection (`_adapters_changed`)."""
        status = self.pgconn.parameter_status
        settings = tuple(status(setting) for setting in _LOADER_SETTINGS)
        if (
            name
            and (kept := self._kept.get((rows, name))) is not None
            and kept.settings == settings
        ):
            return kept
        encoding = self.pgconn._encoding
        columns = (result.fname(i) or b"" for i in range(result.nfields))
        loading = _Loading(
            fresh, rows(tuple(column.decode(encoding) for column in columns)), settings
        )
        if name:
            if len(self._kept) >= _KEPT_STATEMENTS:
                self._kept.clear()
            self._kept[rows, name] = loading
        return loading

    async def _fetch_result(self, statement: PostgresQuery) -> tuple[PGresult, bytes]:
        """`BaseCursor._execute_gen` for one statement outside a pipeline: its first
        result (every result checked as the cursor checks them) and the name of the
        prepared statement that gave it (empty: none)."""
        if not self._autocommit:
            await self.wait(self._start_query())  # BEGIN, when no transaction is open
        prepared = self._prepared
        prepare, name = prepared.get(statement)
        pgconn = self.pgconn
        if prepare is _PREPARE_NO:
            if statement.params:
                pgconn.send_query_params(
                    statement.query,
                    statement.params,
                    param_formats=statement.formats,
                    param_types=statement.types,
                )
            else:  # the simple protocol, as psycopg's cursor uses it
                pgconn.send_query(statement.query)
        else:
            if prepare is _PREPARE_SHOULD:
                pgconn.send_prepare(name, statement.query, param_types=statement.types)
                self._raise_for(await self.wait(execute(pgconn)))
            pgconn.send_query_prepared(name, statement.params, param_formats=statement.formats)
        key = prepared.maybe_add_to_cache(statement, prepare, name)
        results: list[PGresult] = await self.wait(execute(pgconn))
        if key is not None:
            prepared.validate(key, prepare, name, results)
        if not results:
            raise errors.InternalError("got no result from the query")
        self._raise_for(results)
        if prepared._to_flush:  # statements to deallocate: psycopg's upkeep, as its cursor
            await self.wait(prepared.maintain_gen(self))
        return results[0], name  # psycopg names no statement it does not prepare

    def _raise_for(self, results: Sequence[PGresult]) -> None:
        for result in results:
            if (status := result.status) not in _GOOD_STATUSES:
                if status == _FATAL_ERROR:
                    raise errors.error_from_result(result, encoding=self.pgconn._encoding)
                raise errors.ProgrammingError(f"unexpected result status {status}")

    async def cancel_safe(self, *, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - psycopg's
        """Ask the server to cancel the running statement (libpq >= 17 non-blocking cancel)."""
        if not self._should_cancel():
            return
        if not capabilities.has_cancel_safe():  # libpq < 17: its blocking cancel, in a thread
            await trio.to_thread.run_sync(self.cancel, abandon_on_cancel=True)
            return
        try:
            await wait_conn_trio(self._cancel_gen(), timeout=timeout or None)
        except errors._WaitTimeout:
            raise errors.CancellationTimeout("cancellation timeout expired") from None

    async def close(self) -> None:
        self.discard()

    def discard(self) -> None:
        """Close now, without a round trip; the server rolls back whatever was open.
        A connection found broken is finished too: libpq holds its socket until then."""
        if self._closed:
            return
        # Wake any trio wait on the socket before libpq closes it (the fd may be reused).
        # No socket any more, or no trio run (interpreter teardown): nothing to wake.
        with suppress(errors.OperationalError, RuntimeError):
            trio.lowlevel.notify_closing(self.pgconn.socket)
        self._closed = True
        self.pgconn.finish()

    def hung_up(self) -> bool:
        """For an idle connection: has the server hung up? Nothing is due on an idle
        connection, so a readable socket is the server's goodbye (a restart, a
        terminate) or EOF. One zero-timeout poll, no round trip."""
        if self.closed:
            return True
        try:
            return bool(_ready(self.pgconn.socket, _WAIT_R))
        except (errors.OperationalError, OSError):
            return True

    async def _abandon(self) -> None:
        """Interrupted mid round trip: cancel the server's query (bounded), then close."""
        try:
            if self.pgconn.transaction_status == _ACTIVE:
                with trio.CancelScope(shield=True, deadline=trio.current_time() + CANCEL_BUDGET):
                    await self.cancel_safe(timeout=CANCEL_BUDGET)
        except Exception as error:  # the connection goes anyway; say why the cancel did not
            log.warning("query cancellation failed: %s", error)
        finally:
            self.discard()


async def _attempts(params: ConnDict) -> list[ConnDict]:
    """psycopg's connection attempts (several hosts, DNS answers); resolving blocks, so a
    host that needs it is resolved in a thread. Unix sockets and addresses need none."""
    host = str(params.get("host") or "")
    if not host or host.startswith("/") or params.get("hostaddr"):
        return conninfo_attempts(params)
    return await trio.to_thread.run_sync(conninfo_attempts, params, abandon_on_cancel=True)


def _connect_failure(failures: list[tuple[errors.Error, str]]) -> errors.Error:
    if not failures:  # conninfo_attempts raises before returning no attempt
        return errors.OperationalError("no connection attempt was made")
    last = failures[-1][0]
    if len(failures) == 1:
        return last.with_traceback(None)
    lines = [str(last), "Multiple connection attempts failed. All failures were:"]
    lines += [f"- {where}: {error}" for error, where in failures]
    return type(last)("\n".join(lines), pgconn=last.pgconn)


async def wait_trio(
    gen: PQGen[RV],
    fileno: int,
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - psycopg's wait contract
) -> RV:
    """psycopg.waiting.wait_async on trio: consume `gen`, waiting on `fileno` when it blocks.

    As psycopg's: a wait for writing first tries a zero-timeout poll (the socket
    is nearly always writable, and a poll is far cheaper than a scheduler round
    trip); a `timeout` raises `_WaitTimeout`; an OSError means the socket is gone.
    """
    global _last_yield
    try:
        s = next(gen)
    except StopIteration as done:
        if monotonic() - _last_yield >= MAX_BUSY_TIME:
            await trio.lowlevel.checkpoint()
            _last_yield = monotonic()
        return cast(RV, done.value)

    deadline = inf if timeout is None else trio.current_time() + timeout
    try:
        while True:
            if s & _WAIT_W:
                if monotonic() - _last_yield >= MAX_BUSY_TIME:
                    await trio.lowlevel.checkpoint()
                    _last_yield = monotonic()
                if ready := _ready(fileno, s):
                    s = gen.send(ready)
                    if trio.current_time() >= deadline:
                        raise errors._WaitTimeout("wait timeout expired")
                    continue
            if deadline == inf:
                ready = await _wait_fd(fileno, s)
            else:
                with trio.move_on_at(deadline):
                    ready = await _wait_fd(fileno, s)
                    _last_yield = monotonic()
                    s = gen.send(ready)
                    continue
                gen.send(_READY_NONE)  # as psycopg: let the generator see the timeout tick
                raise errors._WaitTimeout("wait timeout expired")
            _last_yield = monotonic()
            s = gen.send(ready)
    except (OSError, trio.ClosedResourceError) as error:
        raise errors.OperationalError("connection socket closed") from error
    except StopIteration as done:
        return cast(RV, done.value)


async def wait_conn_trio(
    gen: PQGenConn[RV],
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - psycopg's wait contract
) -> RV:
    """psycopg.waiting.wait_conn_async on trio: the generator names the fd at each step
    (connecting may change it). `timeout` bounds the whole, as connect_timeout does."""
    try:
        fileno, s = next(gen)
    except StopIteration as done:
        return cast(RV, done.value)
    try:
        with trio.move_on_after(inf if timeout is None else timeout):
            while True:
                fileno, s = gen.send(await _wait_fd(fileno, s))
        raise errors._WaitTimeout("wait timeout expired")
    except (OSError, trio.ClosedResourceError) as error:
        raise errors.OperationalError("connection socket closed") from error
    except StopIteration as done:
        return cast(RV, done.value)
    finally:
        gen.close()  # an abandoned connect or cancel lets go of its libpq handle now


async def _wait_fd(fileno: int, s: Wait) -> Ready | int:
    """Wait until `fileno` is ready for what `s` asks; the readiness seen."""
    if s == _WAIT_R:
        await trio.lowlevel.wait_readable(fileno)
        return _READY_R
    if s == _WAIT_W:
        await trio.lowlevel.wait_writable(fileno)
        return _READY_W
    if s == _WAIT_RW:  # libpq flushing while the server may be writing to us: either will do
        if ready := _ready(fileno, s):
            return ready
        async with trio.open_nursery() as nursery:

            async def until(wait: Any) -> None:
                await wait(fileno)
                nursery.cancel_scope.cancel()

            nursery.start_soon(until, trio.lowlevel.wait_readable)
            nursery.start_soon(until, trio.lowlevel.wait_writable)
        return _ready(fileno, s) or _READY_R
    raise errors.InternalError(f"bad poll status: {s}")
