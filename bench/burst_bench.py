"""The turn-ready burst: every player of every game fetches the new report at once.

A whole service on embedded defaults with the process engine driver (real
`galaxy engine` processes, no Docker) runs GAMES games of PLAYERS players,
set up through the user surface as players would; a turn is forced in each,
then CONNECTIONS wrk connections fetch `reports/latest`, each request as the
next of the players (a Lua script rotates over the (X-User-ID, game) pairs).

The floor, measured in the same run by the same wrk and script, is the same
JSON served by a bare ASGI app on hypercorn's trio worker: it answers each
(game, player) request with that player's very report, so both sides move
the same bytes. Rounds alternate floor and service; medians are kept (a
shared machine drifts). Throughput and p99 latency are reported for both.

Run by hand: `python -c "from bench import burst_bench; from bench.report import Report;
burst_bench.run(Report())"`. `python -m bench.burst_bench galaxy USERS` and
`python -m bench.burst_bench floor BODIES.json` are its two servers.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import httpx
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from bench.lobby import running_game
from bench.process import announced_server
from bench.report import Report, Row
from bench.servers import answer_lifespan

GAMES = 50
PLAYERS = 4
CONNECTIONS = 200
ROUNDS = 3  # of floor and service each, alternating
ROUND_DURATION = "5s"
SETUP_AT_ONCE = 5  # games set up concurrently (each starts an engine process)
ADMIN = ("bench", "bench-password")
FLOOR = "plain ASGI, same bodies (hypercorn-trio)"
# Letters without look-alike pairs (rn/m, cl/d, vv/w, I/l): race names stay distinct.
_LETTERS = "bfghkpqtxz"

# Each request is the next (user, game) pair; wrk's two threads start half-way apart.
_SCRIPT = """
local pairs = {%(pairs)s}
local n = 0
function setup(thread)
  thread:set("start", n)
  n = n + #pairs / 2
end
function init(args)
  n = start or 0
end
function request()
  n = n + 1
  local pair = pairs[(n %% #pairs) + 1]
  return wrk.format("GET", "/api/v1/user/games/" .. pair[2] .. "/reports/latest",
                    {["X-User-ID"] = pair[1]})
end
"""


@dataclass(frozen=True)
class Seat:
    user_id: str
    game_id: str


@dataclass(frozen=True)
class Measured:
    rps: float
    p99_ms: float


# -- the service's side -------------------------------------------------------------


async def _run_galaxy(users: int) -> None:
    from galaxy import heap
    from galaxy.app import Service
    from galaxy.config import load_config

    data_dir = tempfile.mkdtemp(prefix="galaxy-burst-")
    config = load_config(
        {
            "BACKEND_DATA_DIR": data_dir,
            "BACKEND_HTTP_LISTEN_ADDR": "127.0.0.1:0",
            "BACKEND_GRPC_PUSH_LISTEN_ADDR": "127.0.0.1:0",
            "BACKEND_ADMIN_BOOTSTRAP_USER": ADMIN[0],
            "BACKEND_ADMIN_BOOTSTRAP_PASSWORD": ADMIN[1],
            "BACKEND_RUNTIME_DRIVER": "process",
            # Fifty engines start on a shared machine: what is measured is the reads after.
            "BACKEND_RUNTIME_START_TIMEOUT": "300s",
            "BACKEND_LOGGING_LEVEL": "warning",
        }
    )
    try:
        # Terminated, it stops as `galaxy run` does: engines and PostgreSQL last.
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                service = Service(config)
                endpoints = await nursery.start(service.run)
                heap.settle()  # as `galaxy run` does once ready
                user_ids = await _accounts(service.services, users)
                print(json.dumps({"url": endpoints.http, "users": user_ids}), flush=True)
                async for _ in signals:
                    service.stop()
                    break
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


async def _accounts(services: Any, count: int) -> list[str]:
    """Players as first logins make them (the login itself is measured elsewhere)."""
    from galaxy.services.unit_of_work import AfterCommit, run_unit

    async def work(conn: Any, after: AfterCommit) -> list[str]:
        made = []
        for n in range(count):
            account, _ = await services.accounts.ensure_by_email(
                conn, after, f"burst{n}@example.org", language="en", time_zone="UTC",
                name_retries=10,
            )  # fmt: skip
            made.append(str(account.user_id))
        return made

    user_ids: list[str] = await run_unit(services.db, work, name="bench.accounts")
    return user_ids


# -- the floor ------------------------------------------------------------------------


def _floor_app(bodies: dict[str, bytes]) -> Any:
    """A bare ASGI app answering `(game, user)` with that player's report body."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        user = next((v for k, v in scope["headers"] if k == b"x-user-id"), b"").decode()
        game = scope["path"].split("/")[5]  # /api/v1/user/games/{game_id}/reports/latest
        body = bodies[f"{game}/{user}"]
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


async def _run_floor(bodies_file: str) -> None:
    loaded = json.loads(await trio.Path(bodies_file).read_text())
    bodies = {key: text.encode() for key, text in loaded.items()}
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = None
    config.backlog = 1024
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            partial(
                serve, cast(Any, _floor_app(bodies)), config, shutdown_trigger=trio.sleep_forever
            )
        )
        print(json.dumps({"url": binds[0]}), flush=True)


# -- setting the games up, as players and an operator would -------------------------


def _race(n: int) -> str:
    return "Race " + "".join(_LETTERS[(n // 10**d) % 10] for d in range(3))


async def _game(http: httpx.AsyncClient, players: list[str], first: int) -> str:
    """A running game of `players` (the first owns it), its turn 1 forced."""
    races = [_race(first + n) for n in range(len(players))]
    game_id = await running_game(
        http, players, races, name=f"Burst {first}", schedule="1h", timeout=300
    )
    forced = await http.post(
        f"/api/v1/admin/runtimes/{game_id}/force-next-turn", auth=httpx.BasicAuth(*ADMIN)
    )
    if forced.status_code != 200 or forced.json()["turn"] != 1:
        raise RuntimeError(f"forcing game {game_id}'s turn: {forced.text}")
    return game_id


async def _set_up(url: str, users: list[str]) -> tuple[list[Seat], dict[str, str]]:
    """Every game running at turn 1; each seat, and each seat's report body."""
    seats: list[Seat] = []
    limit = trio.Semaphore(SETUP_AT_ONCE)
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:

        async def one(index: int) -> None:
            players = users[index * PLAYERS : (index + 1) * PLAYERS]
            async with limit:
                game_id = await _game(http, players, index * PLAYERS)
            seats.extend(Seat(user, game_id) for user in players)

        async with trio.open_nursery() as nursery:
            for index in range(GAMES):
                nursery.start_soon(one, index)
        bodies = {}
        for seat in seats:
            path = f"/api/v1/user/games/{seat.game_id}/reports/latest"
            got = await http.get(path, headers={"X-User-ID": seat.user_id})
            got.raise_for_status()
            if got.json()["turn"] != 1:
                raise RuntimeError(f"the latest report is not turn 1's: {got.text[:200]}")
            bodies[f"{seat.game_id}/{seat.user_id}"] = got.text
    return seats, bodies


# -- the load -------------------------------------------------------------------------


def _wrk(url: str, script: Path) -> Measured:
    # A generous timeout: a slow answer counts in the latency, not as a lost request.
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{ROUND_DURATION}", "--timeout", "30s"]
    command += ["--latency", "-s"]
    output = subprocess.run(
        [*command, str(script), url], capture_output=True, text=True, check=True
    ).stdout
    if re.search(r"Non-2xx or 3xx responses|Socket errors", output):
        raise RuntimeError(f"wrk saw errors from {url}:\n{output}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    if rps is None or p99 is None:
        raise RuntimeError(f"no Requests/sec or p99 in wrk output:\n{output}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return Measured(float(rps.group(1)), float(p99.group(1)) * scale)


def _median(runs: list[Measured]) -> Measured:
    return Measured(
        statistics.median(m.rps for m in runs), statistics.median(m.p99_ms for m in runs)
    )


def run(report: Report) -> None:
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk): burst benchmark skipped", flush=True)
        return
    with (
        tempfile.TemporaryDirectory(prefix="burst-bench-") as scratch,
        announced_server("bench.burst_bench", "galaxy", str(GAMES * PLAYERS), key="url") as galaxy,
    ):
        seats, bodies = trio.run(_set_up, galaxy["url"], galaxy["users"])
        script = Path(scratch) / "burst.lua"
        listed = ", ".join(f'{{"{s.user_id}", "{s.game_id}"}}' for s in seats)
        script.write_text(_SCRIPT % {"pairs": listed})
        bodies_file = Path(scratch) / "bodies.json"
        bodies_file.write_text(json.dumps(bodies))
        with announced_server("bench.burst_bench", "floor", str(bodies_file), key="url") as floor:
            service_runs, floor_runs = [], []
            for round_no in range(ROUNDS):
                # Alternate who goes first: a drift then moves both alike.
                if round_no % 2 == 0:
                    floor_runs.append(_wrk(floor["url"], script))
                    service_runs.append(_wrk(galaxy["url"], script))
                else:
                    service_runs.append(_wrk(galaxy["url"], script))
                    floor_runs.append(_wrk(floor["url"], script))
    service, bare = _median(service_runs), _median(floor_runs)
    load = f"{GAMES} games x {PLAYERS} players, {CONNECTIONS} conns"
    report.add(
        Row(f"turn-ready burst: reports/latest ({load})", service.rps, "req/s", FLOOR, bare.rps)
    )
    # For latency the floor is the smaller figure: the ratio is how many times the floor's.
    report.add(Row("turn-ready burst p99 latency", service.p99_ms, "ms", FLOOR, bare.p99_ms))


def main() -> None:
    from galaxy.logging import configure_logging

    configure_logging("warning", "galaxy-bench")
    which, argument = sys.argv[1], sys.argv[2]
    if which == "galaxy":
        trio.run(_run_galaxy, int(argument))
    else:
        trio.run(_run_floor, argument)


if __name__ == "__main__":
    main()
