"""Peers for the account read: the same `GET /api/v1/user/account` from the same database,
on two common asyncio stacks, each with psycopg_pool.

`python -m bench.peers quart DSN QUERY` (asyncio Quart on hypercorn's asyncio
worker) or `starlette DSN QUERY` (Starlette on uvicorn). Each runs QUERY,
galaxy's own account statement (`galaxy.store.accounts.ACCOUNT_STATE`, handed
over by the benchmark), as galaxy does: one statement on a pooled autocommit
connection, no BEGIN/COMMIT; and prints one JSON line with its URL.

Nothing of galaxy is imported here: `galaxy` imports trio-asyncio, whose
event loop would then run under `asyncio.run` and slow the peer down.
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

AUTOCOMMIT: dict[str, Any] = {"autocommit": True}


def _listening() -> tuple[socket.socket, str]:
    """A loopback socket already listening, and its URL: announced before the server
    runs, early connections wait in the backlog instead of being refused."""
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say
    # so, and without it every response waits for a delayed ACK (~40 ms).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}"


async def account(pool: AsyncConnectionPool, query: str, user_id: str) -> dict[str, Any] | None:
    async with pool.connection() as conn:
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute(query, {"user_id": uuid.UUID(user_id)})
        return await cursor.fetchone()


def encode(value: Any) -> bytes:
    return json.dumps(value, default=str, separators=(",", ":")).encode()


async def run_quart(dsn: str, query: str) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from quart import Quart, Response, request

    pool = AsyncConnectionPool(dsn, min_size=2, max_size=10, open=False, kwargs=AUTOCOMMIT)
    await pool.open()
    app = Quart("peer")

    @app.get("/api/v1/user/account")
    async def get_account() -> Response:
        found = await account(pool, query, request.headers["X-User-ID"])
        return Response(
            encode(found), status=200 if found else 404, content_type="application/json"
        )

    listener, url = _listening()
    config = Config()
    config.bind = [f"fd://{listener.fileno()}"]
    config.accesslog = config.errorlog = None
    print(json.dumps({"url": url}), flush=True)
    await serve(app, config)


def run_starlette(dsn: str, query: str) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    pool = AsyncConnectionPool(dsn, min_size=2, max_size=10, open=False, kwargs=AUTOCOMMIT)

    async def get_account(request: Request) -> Response:
        found = await account(pool, query, request.headers["X-User-ID"])
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
    which, dsn, query = sys.argv[1:4]
    if "galaxy" in sys.modules or "trio_asyncio" in sys.modules:
        raise RuntimeError("a peer must not run on trio-asyncio's loop")
    if which == "quart":
        asyncio.run(run_quart(dsn, query))
    else:
        run_starlette(dsn, query)


if __name__ == "__main__":
    main()
