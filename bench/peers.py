"""Peers for the account read: the same `GET /api/v1/user/account` from the same database,
on two common asyncio stacks, each with psycopg_pool.

`python -m bench.peers quart DSN` (asyncio Quart on hypercorn's asyncio
worker) or `starlette DSN` (Starlette on uvicorn). Each reads what galaxy's
account view reads (the account, its entitlement snapshot, active sanctions
and limits) in one pooled transaction, and prints one JSON line with its URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from galaxy.store import accounts as queries


def _listening() -> tuple[socket.socket, str]:
    """A loopback socket already listening, and its URL: announced before the server
    runs, early connections wait in the backlog instead of being refused."""
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say
    # so, and without it every response waits for a delayed ACK (~40 ms).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}"


async def account(pool: AsyncConnectionPool, user_id: str) -> dict[str, Any] | None:
    params = {"user_id": uuid.UUID(user_id)}
    async with pool.connection() as conn, conn.transaction():
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute(queries.GET_ACCOUNT, params)
        row = await cursor.fetchone()
        if row is None:
            return None
        await cursor.execute(queries.GET_SNAPSHOT, params)
        row["entitlements"] = await cursor.fetchone()
        await cursor.execute(queries.ACTIVE_SANCTIONS, params)
        row["sanctions"] = await cursor.fetchall()
        await cursor.execute(queries.ACTIVE_LIMITS, params)
        row["limits"] = await cursor.fetchall()
    return row


def encode(value: Any) -> bytes:
    return json.dumps(value, default=str, separators=(",", ":")).encode()


async def run_quart(dsn: str) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from quart import Quart, Response, request

    pool = AsyncConnectionPool(dsn, min_size=2, max_size=10, open=False)
    await pool.open()
    app = Quart("peer")

    @app.get("/api/v1/user/account")
    async def get_account() -> Response:
        found = await account(pool, request.headers["X-User-ID"])
        return Response(
            encode(found), status=200 if found else 404, content_type="application/json"
        )

    listener, url = _listening()
    config = Config()
    config.bind = [f"fd://{listener.fileno()}"]
    config.accesslog = config.errorlog = None
    print(json.dumps({"url": url}), flush=True)
    await serve(app, config)


def run_starlette(dsn: str) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    pool = AsyncConnectionPool(dsn, min_size=2, max_size=10, open=False)

    async def get_account(request: Request) -> Response:
        found = await account(pool, request.headers["X-User-ID"])
        return Response(
            encode(found), status_code=200 if found else 404, media_type="application/json"
        )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await pool.open()
        yield
        await pool.close()

    app = Starlette(routes=[Route("/api/v1/user/account", get_account)], lifespan=lifespan)
    listener, url = _listening()
    print(json.dumps({"url": url}), flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[listener])  # on uvicorn's own loop (uvloop), as `uvicorn.run` does


def main() -> None:
    which, dsn = sys.argv[1], sys.argv[2]
    if which == "quart":
        asyncio.run(run_quart(dsn))
    else:
        run_starlette(dsn)


if __name__ == "__main__":
    main()
