"""The engine's HTTP surface (engine-openapi.yaml), on quart-trio and hypercorn.

`galaxy engine --state-dir DIR --listen HOST:PORT` runs it. Once listening it
prints one JSON line, `{"msg": "engine.ready", "listen": "HOST:PORT"}`, with
the bound port (useful with port 0). SIGTERM or SIGINT stop it gracefully.
"""

from __future__ import annotations

import json
import signal
import sys
from functools import partial
from pathlib import Path
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from galaxy.domain.strict import JSONRejected, loads, whole_number
from galaxy.engine.engine import Engine, EngineError

EPOCH_HEADER = "Galaxy-Owner-Epoch"


def create_app(engine: Engine) -> QuartTrio:
    app = QuartTrio("galaxy-engine")
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    app.config["MAX_CONTENT_LENGTH"] = 4 * 1024 * 1024

    async def body() -> Any:
        """The body read strictly: no NaN, Infinity or lone surrogates, bounded depth and size."""
        raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
        try:
            return loads(raw) if raw else None
        except JSONRejected as error:
            raise EngineError(400, "malformed", f"the body is not JSON we take: {error}") from None

    def epoch() -> int | None:
        """The caller's owner epoch (ENGINE.md, "Fencing"): a positive whole number or none."""
        raw = request.headers.get(EPOCH_HEADER)
        if raw is None:
            return None
        number = whole_number(raw.strip(), max_digits=18)
        if number is None or number < 1:
            raise EngineError(
                400, "malformed", f"{EPOCH_HEADER} must be a positive whole number, not {raw!r}"
            )
        return number

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "initialised": engine.game is not None}

    @app.post("/api/v1/admin/init")
    async def init() -> tuple[dict[str, Any], int]:
        return await engine.init(await body(), epoch()), 201

    @app.get("/api/v1/admin/status")
    async def status() -> dict[str, Any]:
        return await engine.status()

    @app.put("/api/v1/admin/turn")
    async def turn() -> dict[str, Any]:
        return await engine.turn(epoch())

    @app.post("/api/v1/admin/race/banish")
    async def banish() -> dict[str, Any]:
        return await engine.banish(await body(), epoch())

    @app.put("/api/v1/command")
    async def command() -> dict[str, Any]:
        return await engine.command(await body(), epoch())

    @app.put("/api/v1/order")
    async def order() -> dict[str, Any]:
        return await engine.order(await body(), epoch())

    @app.get("/api/v1/report")
    async def report() -> dict[str, Any]:
        raw_turn = request.args.get("turn")
        # ASCII digits only (str.isdigit() and int() take "²" and other scripts' digits); anything
        # else goes through as text, which no turn matches: 404 unknown_turn.
        number = None if raw_turn is None else whole_number(raw_turn)
        turn: Any = raw_turn if number is None else number
        return await engine.report(request.args.get("race"), turn)

    @app.errorhandler(EngineError)
    async def engine_error(error: EngineError) -> Response:
        return _error(error.status, error.code, error.message, error.extra)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        return _error(status, "http_error", error.description or "HTTP error")

    return app


def _error(status: int, code: str, message: str, extra: dict[str, Any] | None = None) -> Response:
    payload = {"error": {"code": code, "message": message}, **(extra or {})}
    return Response(json.dumps(payload), status=status, content_type="application/json")


async def serve_engine(state_dir: Path, listen: str) -> None:
    engine = Engine(state_dir)
    config = HypercornConfig()
    config.bind = [listen]
    config.accesslog = None
    config.errorlog = None
    # The backend closes its connection before it stops an engine; a client that does
    # not (an idle keep-alive) would otherwise hold the stop for the whole grace.
    config.graceful_timeout = 1.0
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_signal, stop)
        binds = await nursery.start(
            partial(serve, create_app(engine), config, shutdown_trigger=stop.wait)
        )
        bound = binds[0].removeprefix("http://")
        print(json.dumps({"msg": "engine.ready", "listen": bound}), flush=True)
        await stop.wait()
        nursery.cancel_scope.deadline = trio.current_time() + 10


async def _stop_on_signal(stop: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            stop.set()
            return


def main(state_dir: Path, listen: str) -> int:
    try:
        trio.run(serve_engine, state_dir, listen)
    except OSError as error:
        print(json.dumps({"msg": "engine.failed", "error": str(error)}), file=sys.stderr)
        return 1
    return 0
