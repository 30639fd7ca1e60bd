"""Several `galaxy run` instances on one PostgreSQL (issue 20): failover and CPU per game.

Real processes, as tests/e2e/test_failover.py runs them: engines under the
`process` driver on a state root every instance shares (one host), short lease
timings of the defaults' ratio (TTL three renewals: 3 s and 1 s here, 15 s and
5 s by default), one embedded PostgreSQL, a database of its own per part.

1. Failover after SIGKILL. GAMES_FAILOVER idle games spread by placement over
   two instances (four each); one is SIGKILLed, and the time runs
   until every game it held is leased to the survivor *and* the survivor's
   game actor answers (the admin runtime view shows it). The killed instance
   is started again, the games spread back, and the next round kills the other
   one. The floor is the lease renew interval: a killed run's liveness lock
   goes with its PostgreSQL session, so its leases are claimable at once and
   the survivor takes them at its next placement round, which comes within one
   renew interval; the lease TTL bounds only a paused owner. The ratio is then
   how many placement rounds a failover costs.
2. CPU per game at 1 turn/s. GAMES_CPU two-player games on a one-second turn
   schedule, spread by placement over 1, then 2, then 3 instances; each
   instance process's CPU (utime + stime from /proc) over a fixed window,
   summed over the instances and divided by the games. The floor is the
   one-instance figure: the ratio is the cluster's overhead per game
   (heartbeats, lease renewals, LISTEN/NOTIFY, each instance's own pools and
   caches); engine processes are not counted. The turns run in the window are
   counted, so a machine too slow to keep 1 turn/s shows in the row's name.

The whole module takes about two minutes (30 engine processes fit two shared
cores: the instances then use about half a core). Run by hand:
`python -c "from bench import cluster_bench; from bench.report import Report;
cluster_bench.run(Report())"`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg
import trio

from bench.lobby import running_game
from bench.report import Report, Row
from galaxy.clients.containers import ENGINE_FILE
from tests.support.driving import Gatewayish
from tests.support.galaxy_process import GalaxyProcess, clean_environ, launch, reap_leftovers
from tests.support.postgres import test_postgres

ADMIN = ("bench", "bench-password")
LEASE_TTL = 3.0
RENEW = 1.0
GAMES_FAILOVER = 8
ROUNDS = 5
GAMES_CPU = 30
WINDOW = 10.0  # seconds of CPU measured per instance count
SETUP_AT_ONCE = 4  # games set up concurrently (each starts an engine process)
OWNED = 10  # max_owned_games by default: each owner (and guest) is in at most this many
TICK = os.sysconf("SC_CLK_TCK")
# Letters without look-alike pairs (rn/m, cl/d, vv/w, I/l): race names stay distinct.
_LETTERS = "bfghkpqtxz"


# -- the processes ----------------------------------------------------------------------


class Cluster:
    """`galaxy run` instances on one database and one engine state root."""

    def __init__(self, dsn: str, scratch: Path) -> None:
        self.dsn = dsn
        self.scratch = scratch
        self.state_root = scratch / "games"
        self.running: dict[str, GalaxyProcess] = {}
        self.every: list[GalaxyProcess] = []
        self.starts = Counter[str]()
        self.data_dirs: list[Path] = []

    def start(self, instance_id: str) -> GalaxyProcess:
        self.starts[instance_id] += 1
        data_dir = self.scratch / f"{instance_id}-{self.starts[instance_id]}"
        data_dir.mkdir(parents=True)
        self.data_dirs.append(data_dir)
        environ = clean_environ(
            data_dir,
            BACKEND_POSTGRES_DSN=self.dsn,
            BACKEND_INSTANCE_ID=instance_id,
            BACKEND_INSTANCE_HEARTBEAT_INTERVAL="1s",
            BACKEND_INSTANCE_TTL="3s",
            BACKEND_GAME_LEASE_TTL=f"{LEASE_TTL:g}s",
            BACKEND_GAME_LEASE_RENEW_INTERVAL=f"{RENEW:g}s",
            BACKEND_GAME_STATE_ROOT=str(self.state_root),
            BACKEND_RUNTIME_DRIVER="process",
            BACKEND_RUNTIME_START_TIMEOUT="120s",
            BACKEND_RUNTIME_RECONCILE_INTERVAL="1h",
            BACKEND_ADMIN_BOOTSTRAP_USER=ADMIN[0],
            BACKEND_ADMIN_BOOTSTRAP_PASSWORD=ADMIN[1],
        )
        galaxy = launch(environ, stderr=subprocess.DEVNULL)
        galaxy.drain()
        self.running[instance_id] = galaxy
        self.every.append(galaxy)
        return galaxy

    def kill(self, instance_id: str) -> None:
        galaxy = self.running.pop(instance_id)
        galaxy.process.send_signal(signal.SIGKILL)
        galaxy.process.wait(timeout=60)

    def close(self) -> None:
        for galaxy in self.running.values():  # cleanly first: each releases its leases
            galaxy.process.send_signal(signal.SIGINT)
        for galaxy in self.every:
            with contextlib.suppress(subprocess.TimeoutExpired):
                galaxy.process.wait(timeout=60)
            galaxy.close()
        for data_dir in self.data_dirs:
            reap_leftovers(data_dir)
        reap_engines(self.state_root)

    def holders(self) -> dict[str, str]:
        """Each game's live lease holder."""
        with psycopg.connect(self.dsn) as conn:
            rows = conn.execute(
                "SELECT game_id::text, holder FROM game_leases"
                " WHERE holder IS NOT NULL AND expires_at > now()"
            ).fetchall()
        return {str(game): str(holder) for game, holder in rows}

    def turns(self) -> tuple[int, int]:
        """The sum of the running games' turns, and how many games run."""
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT coalesce(sum(current_turn), 0), count(*) FROM games"
                " WHERE status = 'running'"
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


def reap_engines(state_root: Path) -> None:
    """The engines of the shared state root (reap_leftovers looks under one data dir)."""
    for note in state_root.glob(f"*/{ENGINE_FILE}"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            os.kill(int(json.loads(note.read_text())["pid"]), signal.SIGKILL)


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (its threads included), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of stat(5)


# -- setting games up -------------------------------------------------------------------


def _race(user_id: str) -> str:
    """A race name per player (a race name is its player's across games)."""
    return "Race " + "".join(_LETTERS[int(c, 16) % len(_LETTERS)] for c in user_id[-6:])


async def _games(cluster: Cluster, count: int, schedule: str) -> list[str]:
    """`count` running two-player games set up through one instance, as players would."""
    first = next(iter(cluster.running.values()))
    async with httpx.AsyncClient(base_url=first.ready["http"], timeout=120) as http:
        gw = Gatewayish(http, Path(first.ready["maildir"]))
        players: list[list[str]] = []
        for n in range(math.ceil(count / OWNED)):
            pair = [await gw.register(f"{who}{n}@example.org") for who in ("owner", "guest")]
            players.append([player["user"] for player in pair])
        games: list[str] = []
        limit = trio.Semaphore(SETUP_AT_ONCE)

        async def one(n: int) -> None:
            seats = players[n // OWNED]
            races = [_race(player) for player in seats]
            async with limit:
                game = await running_game(http, seats, races, name=f"Bench {n}", schedule=schedule)
            games.append(game)

        async with trio.open_nursery() as nursery:
            for n in range(count):
                nursery.start_soon(one, n)
    return games


async def _until(check: Callable[[], bool], timeout: float = 120) -> None:  # noqa: ASYNC109
    with trio.fail_after(timeout):
        while not check():  # noqa: ASYNC110 - the database's state, no event
            await trio.sleep(0.05)


# -- 1. failover ------------------------------------------------------------------------


async def _actor_answers(http: httpx.AsyncClient, game_id: str) -> bool:
    found = await http.get(f"/api/v1/admin/runtimes/{game_id}", auth=ADMIN)
    return found.status_code == 200 and found.json().get("actor") is not None


async def _failover(cluster: Cluster) -> list[float]:
    cluster.start("galaxy-a")
    games = await _games(cluster, GAMES_FAILOVER, "1h")
    cluster.start("galaxy-b")
    half = GAMES_FAILOVER // 2
    await _until(lambda: sorted(Counter(cluster.holders().values()).values()) == [half, half])
    times: list[float] = []
    for round_no in range(ROUNDS):
        victim, survivor = (
            ("galaxy-a", "galaxy-b") if round_no % 2 == 0 else ("galaxy-b", "galaxy-a")
        )
        held = [g for g, holder in cluster.holders().items() if holder == victim]
        assert held, f"{victim} holds no game"
        url = cluster.running[survivor].ready["http"]
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            cluster.kill(victim)
            killed_at = time.monotonic()
            waiting = set(held)
            with trio.fail_after(60):
                while waiting:
                    now = cluster.holders()
                    for game_id in [g for g in waiting if now.get(g) == survivor]:
                        if await _actor_answers(http, game_id):
                            waiting.discard(game_id)
                    if waiting:
                        await trio.sleep(0.02)
            times.append(time.monotonic() - killed_at)
        print(f"  failover round {round_no + 1}: {len(held)} games, {times[-1]:.2f}s", flush=True)
        if round_no == ROUNDS - 1:
            break
        cluster.start(victim)  # back, and the games spread again for the next round
        await _until(
            lambda: (
                sorted(Counter(cluster.holders().values()).values()) == [half, half]
                and len(cluster.holders()) == len(games)
            )
        )
    return times


# -- 2. CPU per game at 1 turn/s ----------------------------------------------------------


async def _spread(cluster: Cluster, games: int) -> None:
    """Until every running instance holds its even share of the games."""
    share = Counter({i: games // len(cluster.running) for i in cluster.running})
    for extra in list(cluster.running)[: games % len(cluster.running)]:
        share[extra] += 1
    wanted = sorted(share.values())
    await _until(lambda: sorted(Counter(cluster.holders().values()).values()) == wanted)
    await trio.sleep(RENEW * 2)  # the taken games' actors start and adopt their engines


async def _window(cluster: Cluster) -> tuple[float, float, int]:
    """CPU seconds per wall second of the instances, turns per game per second, games."""
    pids = [g.process.pid for g in cluster.running.values()]
    turns_before, _ = cluster.turns()
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    began = time.monotonic()
    await trio.sleep(WINDOW)
    cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    wall = time.monotonic() - began
    turns_after, running = cluster.turns()
    return cpu / wall, (turns_after - turns_before) / max(1, running) / wall, running


async def _cpu(cluster: Cluster) -> list[tuple[int, float, float, int]]:
    """For 1, 2 and 3 instances: (instances, CPU share per game, turn rate, games)."""
    cluster.start("galaxy-1")
    began = time.monotonic()
    games = await _games(cluster, GAMES_CPU, "1s")
    print(f"  {len(games)} games set up in {time.monotonic() - began:.0f}s", flush=True)
    measured = []
    for count in (1, 2, 3):
        if count > 1:
            cluster.start(f"galaxy-{count}")
        await _spread(cluster, len(games))
        share, rate, running = await _window(cluster)
        running = max(1, running)
        if running < len(games):  # a game that reached its turn limit finished: said in the row
            print(f"  only {running} of {len(games)} games still run", flush=True)
        measured.append((count, share / running, rate, running))
        print(
            f"  {count} instance(s): {share * 100:.1f}% CPU for {running} games,"
            f" {rate:.2f} turns/s per game",
            flush=True,
        )
    return measured


# -- the report -------------------------------------------------------------------------


def run(report: Report) -> None:
    began = time.monotonic()
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cluster-bench-")))
        server = stack.enter_context(test_postgres(scratch / "pg"))
        with server.database() as dsn:
            cluster = Cluster(dsn, scratch / "failover")
            try:
                times = trio.run(_failover, cluster)
                print(f"  failover part took {time.monotonic() - began:.0f}s", flush=True)
            finally:
                cluster.close()
        with server.database() as dsn:
            cluster = Cluster(dsn, scratch / "cpu")
            try:
                cpu = trio.run(_cpu, cluster)
            finally:
                cluster.close()
    settings = f"lease TTL {LEASE_TTL:g}s, renew {RENEW:g}s"
    floor = "lease renew interval"
    held = GAMES_FAILOVER // 2
    report.add(
        Row(
            f"failover after SIGKILL, {held} games (median of {ROUNDS}; {settings})",
            statistics.median(times),
            "s",
            floor,
            RENEW,
        )
    )
    report.add(Row(f"failover after SIGKILL (worst of {ROUNDS})", max(times), "s", floor, RENEW))
    one = cpu[0][1] * 100
    for instances, per_game, rate, games in cpu:
        report.add(
            Row(
                f"instance CPU per game at 1 turn/s, {instances} instance"
                f"{'s' if instances > 1 else ''} x {games // instances} games "
                f"({rate:.2f} turns/s)",
                per_game * 100,
                "% CPU",
                "1 instance",
                one,
            )
        )
    print(f"  cluster bench took {time.monotonic() - began:.0f}s", flush=True)
