"""HTTP edge throughput with wrk, against a bare ASGI app on hypercorn's trio worker."""

from __future__ import annotations

import base64
import re
import shutil
import statistics
import subprocess
from contextlib import AbstractContextManager
from typing import Any

import httpx

from bench.process import announced_server
from bench.report import Report, Row
from bench.servers import LANE_NOOP
from galaxy.store.accounts import ACCOUNT_STATE

DURATION = "5s"
ROUNDS = 5  # of the floor and the routes measured against it, each ROUND_DURATION long
ROUND_DURATION = "3s"
CONNECTIONS = "16"
ACCOUNT_ROUNDS = 5  # as many as the floors get: with 3, one drifting peer round moved the median


def server(kind: str) -> AbstractContextManager[dict[str, Any]]:
    return announced_server("bench.servers", kind, key="url")


def wrk(url: str, headers: dict[str, str] | None = None, duration: str = DURATION) -> float:
    # One request first: measure the steady state, not the first credential check.
    httpx.get(url, headers=headers, timeout=30).raise_for_status()
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{duration}", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses", output):
        raise RuntimeError(f"wrk saw errors from {url}:\n{output}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{output}")
    return float(match.group(1))


def run(report: Report) -> None:
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk): HTTP benchmarks skipped", flush=True)
        return
    # The servers stay up (an idle one costs nothing) and the floor is measured
    # between the candidates, ROUNDS short rounds in a rotating order, medians
    # kept: on a shared machine one 5 s run drifts by ±10 %, and a drift then
    # moves floor and candidates alike.
    token = base64.b64encode(b"bench:bench-password").decode()
    with server("plain") as plain, server("quart") as quart, server("galaxy") as galaxy:
        cases: dict[str, tuple[str, dict[str, str] | None]] = {
            "floor": (plain["url"] + "/", None),
            "healthz": (galaxy["url"] + "/healthz", None),
            "session": (
                galaxy["url"] + f"/api/v1/internal/sessions/{galaxy['session_id']}",
                None,
            ),
            "user": (
                galaxy["bench_url"] + "/api/v1/user/bench/noop",
                {"X-User-ID": "5f0c8a4e-0d5b-4c36-9a39-7f0f4f2a1c11"},
            ),
            "lane": (
                galaxy["bench_url"] + LANE_NOOP,
                {"X-User-ID": "5f0c8a4e-0d5b-4c36-9a39-7f0f4f2a1c11"},
            ),
            "admin": (
                galaxy["bench_url"] + "/api/v1/admin/bench/noop",
                {"Authorization": f"Basic {token}"},
            ),
            "quart": (quart["url"] + "/noop", None),
        }
        figures: dict[str, list[float]] = {name: [] for name in cases}
        names = list(cases)
        for round_no in range(ROUNDS):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                url, headers = cases[name]
                figures[name].append(wrk(url, headers, duration=ROUND_DURATION))
        floor, healthz, session, user, lane, admin, stock = (
            statistics.median(figures[name]) for name in names
        )
        account, peers = _account_reads(galaxy)
    report.add(Row("GET /healthz", healthz, "req/s", "plain ASGI (hypercorn-trio)", floor))
    report.add(
        Row("session lookup (cache hit)", session, "req/s", "plain ASGI (hypercorn-trio)", floor)
    )
    report.add(
        Row("user no-op (X-User-ID, Quart)", user, "req/s", "plain ASGI (hypercorn-trio)", floor)
    )
    report.add(Row("user no-op (edge lane)", lane, "req/s", "plain ASGI (hypercorn-trio)", floor))
    report.add(
        Row("admin no-op (Basic, cached)", admin, "req/s", "plain ASGI (hypercorn-trio)", floor)
    )
    # What the framework itself costs: the user no-op can come no nearer the floor than a
    # bare quart-trio app would, unless Galaxy serves Quart's requests for less than it does.
    report.add(Row("stock quart-trio no-op", stock, "req/s", "plain ASGI (hypercorn-trio)", floor))
    report.add(Row("user no-op (X-User-ID, Quart)", user, "req/s", "stock quart-trio no-op", stock))
    for peer, name in (
        ("quart", "asyncio Quart + psycopg_pool"),
        ("starlette", "Starlette/uvicorn + psycopg_pool"),
    ):
        report.add(Row("GET /api/v1/user/account (database)", account, "req/s", name, peers[peer]))


def _account_reads(galaxy: dict[str, Any]) -> tuple[float, dict[str, float]]:
    """The account read on galaxy and on both peers, the same database and statement, in
    ACCOUNT_ROUNDS rotating rounds (medians): one 5 s run each drifted by ±30 % here."""
    as_player = {"X-User-ID": galaxy["user_id"]}
    path = "/api/v1/user/account"
    # The peers run galaxy's own account statement, handed over (they import no galaxy).
    with (
        announced_server("bench.peers", "quart", galaxy["dsn"], ACCOUNT_STATE, key="url") as quart,
        announced_server(
            "bench.peers", "starlette", galaxy["dsn"], ACCOUNT_STATE, key="url"
        ) as starlette,
    ):
        urls = {"galaxy": galaxy["url"], "quart": quart["url"], "starlette": starlette["url"]}
        figures: dict[str, list[float]] = {name: [] for name in urls}
        names = list(urls)
        for round_no in range(ACCOUNT_ROUNDS):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                figures[name].append(wrk(urls[name] + path, as_player, duration=ROUND_DURATION))
    medians = {name: statistics.median(values) for name, values in figures.items()}
    return medians.pop("galaxy"), medians
