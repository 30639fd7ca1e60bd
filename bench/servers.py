"""Servers for the HTTP benchmarks, each run in a process of its own.

`plain`: the floor, a bare ASGI app on hypercorn's trio worker.
`quart`: a stock quart-trio app with one no-op route, nothing else, on the same
worker: what the framework alone costs a request.
`galaxy`: a whole service on embedded defaults, plus a second listener serving
the real application with a benchmark-only blueprint of authenticated no-ops
and the user no-op on the edge lane too (`galaxy.http.lane`), and one
player's device session for the gateway's lookup.
Each prints one JSON line with its URL(s) once it listens.
"""

from __future__ import annotations

import json
import signal
import sys
import tempfile
from functools import partial
from typing import Any, cast

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

BODY = b'{"status":"ok"}'
LANE_NOOP = "/api/v1/user/bench/lane-noop"


async def answer_lifespan(receive: Any, send: Any) -> None:
    """A bare ASGI app's lifespan: every startup and shutdown is complete at once."""
    while True:
        message = await receive()
        kind = message["type"].rsplit(".", 1)[1]  # startup / shutdown
        await send({"type": f"lifespan.{kind}.complete"})
        if kind == "shutdown":
            return


async def plain_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await answer_lifespan(receive, send)
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"15")],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


def _config(port: int) -> HypercornConfig:
    config = HypercornConfig()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.errorlog = None
    return config


def stock_quart_app() -> Any:
    from quart_trio import QuartTrio

    app = QuartTrio("bench-stock")

    @app.get("/noop")
    async def noop() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def run_galaxy() -> None:
    from quart import Blueprint

    from galaxy import heap
    from galaxy.app import Service
    from galaxy.config import load_config
    from galaxy.http.app import create_app
    from galaxy.http.lane import LaneRoute, quart_json

    data_dir = tempfile.mkdtemp(prefix="galaxy-bench-")
    config = load_config(
        {
            "BACKEND_DATA_DIR": data_dir,
            "BACKEND_HTTP_LISTEN_ADDR": "127.0.0.1:0",
            "BACKEND_GRPC_PUSH_LISTEN_ADDR": "127.0.0.1:0",
            "BACKEND_ADMIN_BOOTSTRAP_USER": "bench",
            "BACKEND_ADMIN_BOOTSTRAP_PASSWORD": "bench-password",
            "BACKEND_LOGGING_LEVEL": "warning",
        }
    )
    bench = Blueprint("bench", __name__)

    @bench.get("/api/v1/user/bench/noop")
    async def user_noop() -> dict[str, str]:
        return {"status": "ok"}

    @bench.get("/api/v1/admin/bench/noop")
    async def admin_noop() -> dict[str, str]:
        return {"status": "ok"}

    async def lane_noop(*_: object) -> bytes:  # the user no-op's answer, below Quart
        return quart_json({"status": "ok"})

    # Terminated, it stops as `galaxy run` does: gracefully, its embedded
    # PostgreSQL last (killed, it would leave that server running).
    bench_stopped = trio.Event()
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            service = Service(config)
            endpoints = await nursery.start(service.run)
            assert service.services is not None
            app = create_app(service.services, [bench], [LaneRoute(LANE_NOOP, lane_noop)])
            binds = await nursery.start(
                partial(serve, app, _config(0), shutdown_trigger=bench_stopped.wait)
            )
            heap.settle()  # as `galaxy run` does once ready
            await _announce(service, endpoints, binds)
            async for _ in signals:
                bench_stopped.set()
                service.stop()
                break


async def _announce(service: Any, endpoints: Any, binds: list[str]) -> None:
    session_id, user_id = await _session(service.services)
    announced = {
        "url": endpoints.http,
        "bench_url": binds[0],
        "session_id": session_id,
        "user_id": user_id,
        "dsn": service.services.db.dsn,
    }
    print(json.dumps(announced), flush=True)


async def _session(services: Any) -> tuple[str, str]:
    """A player with one active device session, made as a first login makes them."""
    from nacl.signing import SigningKey

    from galaxy.services.unit_of_work import AfterCommit, run_unit

    async def work(conn: Any, after: AfterCommit) -> tuple[str, str]:
        account, _ = await services.accounts.ensure_by_email(
            conn, after, "bench@example.org", language="en", time_zone="UTC", name_retries=10
        )
        key = bytes(SigningKey.generate().verify_key)
        session = await services.sessions.create(conn, after, account.user_id, key)
        return str(session.device_session_id), str(account.user_id)

    made: tuple[str, str] = await run_unit(services.db, work, name="bench.session")
    return made


def main() -> None:
    from galaxy.logging import configure_logging

    configure_logging("warning", "galaxy-bench")
    which = sys.argv[1]

    async def go() -> None:
        async with trio.open_nursery() as nursery:
            if which in ("plain", "quart"):
                app = plain_app if which == "plain" else stock_quart_app()
                binds = await nursery.start(
                    partial(serve, cast(Any, app), _config(0), shutdown_trigger=trio.sleep_forever)
                )
                print(json.dumps({"url": binds[0]}), flush=True)
            else:
                nursery.start_soon(run_galaxy)

    trio.run(go)


if __name__ == "__main__":
    main()
