"""Database units of work from 16 trio tasks, against psycopg's async pool on plain asyncio.

A unit is BEGIN; four selects; COMMIT, on one embedded PostgreSQL shared by
every contender:
- galaxy: `Database.run` (the trio-native psycopg layer and pool);
- floor: psycopg_pool's `AsyncConnectionPool` under `asyncio.run`, 16 tasks;
- for the record: the path galaxy had before, psycopg_pool on the trio-asyncio
  loop with one crossing per unit (`aio_as_trio`).
Each measurement runs in a fresh interpreter (asyncio.run and trio-asyncio do
not share a process well, and none inherits another's warm state). Rounds
rotate the order and the medians are kept, as in http_bench: on a shared
machine a drift then moves all contenders alike.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from bench.report import Report, Row

# Nothing here imports galaxy, trio_asyncio or psycopg at module level: each
# contender imports what it needs in its own interpreter. Importing trio_asyncio
# (galaxy/__init__.py does) makes `asyncio.run` run on trio-asyncio's
# SyncTrioEventLoop, which would slow the floor down; and psycopg must come
# after trio_asyncio for the bridged path (psycopg.waiting binds
# asyncio.get_running_loop at import, trio-asyncio patches it at its own).
if TYPE_CHECKING:
    from psycopg import AsyncConnection

TASKS = 16
POOL = 16
ROUNDS = 3
ROUND_SECONDS = 2.0
QUERIES = ("select 1", "select 2", "select 3", "select 4")


async def unit(conn: AsyncConnection[Any]) -> None:
    for query in QUERIES:
        cursor = await conn.execute(query)
        await cursor.fetchone()


def galaxy_rate(dsn: str) -> float:
    from galaxy.store.database import Database

    async def main() -> float:
        db = Database(dsn, min_size=POOL, max_size=POOL)
        await db.open()
        try:
            return await trio_rate(lambda: db.run(unit))
        finally:
            await db.close()

    return trio.run(main)


def asyncio_pool_rate(dsn: str) -> float:
    from psycopg_pool import AsyncConnectionPool

    async def main() -> float:
        async with AsyncConnectionPool(dsn, min_size=POOL, max_size=POOL, open=False) as pool:
            await pool.wait()

            async def one() -> None:
                async with pool.connection() as conn, conn.transaction():
                    await unit(conn)

            return await asyncio_rate(one)

    return asyncio.run(main())


def bridged_pool_rate(dsn: str) -> float:
    """The old path: psycopg_pool on the trio-asyncio loop, one crossing per unit."""
    import trio_asyncio
    from psycopg_pool import AsyncConnectionPool

    async def main() -> float:
        async with trio_asyncio.open_loop() as loop:
            pool = AsyncConnectionPool(dsn, min_size=POOL, max_size=POOL, open=False)

            async def open_pool() -> None:  # as galaxy's Database did
                await pool.open()
                async with pool.connection() as conn:
                    await conn.execute("select 1")

            await trio_asyncio.aio_as_trio(open_pool, loop=loop)()

            async def on_asyncio() -> None:
                async with pool.connection() as conn, conn.transaction():
                    await unit(conn)

            crossing = trio_asyncio.aio_as_trio(on_asyncio, loop=loop)
            try:
                return await trio_rate(crossing)
            finally:
                await trio_asyncio.aio_as_trio(pool.close, loop=loop)()

    return trio.run(main)


async def trio_rate(one: Callable[[], Awaitable[Any]]) -> float:
    await one()  # warm: prepared statements, first connection use
    done = 0
    began = time.perf_counter()
    with trio.move_on_after(ROUND_SECONDS):
        async with trio.open_nursery() as nursery:

            async def loop() -> None:
                nonlocal done
                while True:
                    await one()
                    done += 1

            for _ in range(TASKS):
                nursery.start_soon(loop)
    return done / (time.perf_counter() - began)


async def asyncio_rate(one: Callable[[], Awaitable[Any]]) -> float:
    await one()
    done = 0
    began = time.perf_counter()
    deadline = began + ROUND_SECONDS

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await one()
            done += 1

    await asyncio.gather(*(loop() for _ in range(TASKS)))
    return done / (time.perf_counter() - began)


def run(report: Report) -> None:
    with tempfile.TemporaryDirectory(prefix="db-bench-") as scratch:
        from galaxy.embedded.postgres import start_embedded_postgres

        postgres = start_embedded_postgres(Path(scratch) / "pg")
        try:
            dsn = postgres.dsn("postgres")
            figures: dict[str, list[float]] = {name: [] for name in CONTENDERS}
            for round_no in range(ROUNDS):
                names = list(CONTENDERS)
                for name in names[round_no % 3 :] + names[: round_no % 3]:
                    figures[name].append(measure(name, dsn))
            floor, galaxy, bridged = (statistics.median(figures[name]) for name in CONTENDERS)
        finally:
            postgres.stop()
    floor_name = "psycopg_pool on plain asyncio"
    report.add(Row("unit of work (BEGIN, 4 selects, COMMIT)", galaxy, "units/s", floor_name, floor))
    report.add(
        Row(
            "  same, old path (psycopg_pool via trio-asyncio)",
            bridged,
            "units/s",
            floor_name,
            floor,
        )
    )


CONTENDERS: dict[str, Callable[[str], float]] = {
    "floor": asyncio_pool_rate,
    "galaxy": galaxy_rate,
    "bridged": bridged_pool_rate,
}


def measure(name: str, dsn: str) -> float:
    command = [sys.executable, "-m", "bench.db_bench", name, dsn]  # a fresh interpreter each
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return float(output.strip().splitlines()[-1])


if __name__ == "__main__":
    print(CONTENDERS[sys.argv[1]](sys.argv[2]), flush=True)
