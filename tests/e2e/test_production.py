"""The production path, as an operator deploys it from docs/runbook.md ("Deploying").

`BACKEND_EMBEDDED=false` throughout: a PostgreSQL on TCP with SCRAM password
authentication (started here from the binaries that are on the machine), an
SMTP relay that requires STARTTLS and a login, a GeoIP database file, and the
real `galaxy` command. The runbook's commands run as written, in order; only
addresses, ports, paths and the engine driver are swapped for the test's own
(`Lane.substitutions`), so the runbook cannot rot. Both engine drivers: the
process driver always, the Docker driver when the sandbox engine answers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from galaxy import __version__
from galaxy.clients.containers import free_loopback_port
from tests.support.docker import ROOT, docker, docker_answers, has_image
from tests.support.driving import Gatewayish
from tests.support.external_postgres import ExternalPostgres, external_postgres
from tests.support.galaxy_process import GalaxyProcess
from tests.support.geo import country_database
from tests.support.players import codes_of
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.e2e

RUNBOOK = ROOT / "docs" / "runbook.md"
ENV_FILE_MARK = "# galaxy.env"
RELAY_LOGIN = ("galaxy", "change-me-too")  # the runbook's SMTP user and password
GATEWAY_TOKEN = "this-lane-gateway-token-0123456789"  # the runbook's is a placeholder
BIN = Path(sys.executable).parent  # where `galaxy` is installed


# -- the runbook's Deploying section -----------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    env_file: dict[str, str]  # the configuration block, in the runbook's order
    blocks: list[str]  # every other shell block, in order


def read_deployment() -> Deployment:
    text = RUNBOOK.read_text()
    section = text.split("\n## Deploying\n", 1)[1].split("\n## ", 1)[0]
    blocks = [
        textwrap.dedent(match.group(2))
        for match in re.finditer(r"^( *)```sh\n(.*?)^\1```", section, re.S | re.M)
    ]
    env_blocks = [block for block in blocks if block.startswith(ENV_FILE_MARK)]
    assert len(env_blocks) == 1, "the Deploying section has one galaxy.env block"
    env_file: dict[str, str] = {}
    for line in env_blocks[0].splitlines()[1:]:
        name, _, value = line.partition("=")
        env_file[name] = value
    return Deployment(env_file, [block for block in blocks if block not in env_blocks])


# -- the test's own surroundings ------------------------------------------------------------


@dataclass
class Relay:
    """The SMTP relay: STARTTLS required, login required, certificate from a private CA."""

    sink: SmtpSink
    ca_file: Path

    def codes(self, email: str) -> list[str]:
        return codes_of([m for m in self.sink.messages if str(m["To"]).lower() == email])


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    sink = SmtpSink("starttls", context, credentials=RELAY_LOGIN).start()
    try:
        yield Relay(sink, ca_file)
    finally:
        sink.stop()


@pytest.fixture
def postgres() -> Iterator[ExternalPostgres]:
    with external_postgres() as server:
        yield server


@dataclass
class Lane:
    """One deployment: where everything is on this machine, and the engine driver."""

    driver: str  # process or docker
    folder: Path
    postgres: ExternalPostgres
    relay: Relay
    http_port: int = 0
    grpc_port: int = 0
    metrics_port: int = 0
    collector_port: int = 0  # nothing listens there: the collector is down

    @property
    def stack(self) -> str:
        return f"production-lane-{self.http_port}"

    def __post_init__(self) -> None:
        self.http_port, self.grpc_port = free_loopback_port(), free_loopback_port()
        self.metrics_port, self.collector_port = free_loopback_port(), free_loopback_port()

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def configuration(self, written: dict[str, str]) -> dict[str, str]:
        """The runbook's galaxy.env with this machine's places in it; the forms stay."""
        state = self.folder / "games"
        state.mkdir(exist_ok=True)
        places = {
            "BACKEND_POSTGRES_DSN": written["BACKEND_POSTGRES_DSN"].replace(
                "127.0.0.1:5432", self.postgres.address
            ),
            "BACKEND_SMTP_HOST": "127.0.0.1",
            "BACKEND_SMTP_PORT": str(self.relay.sink.port),
            "BACKEND_SMTP_CA_FILE": str(self.relay.ca_file),
            "BACKEND_GAME_STATE_ROOT": str(state),
            "BACKEND_GEOIP_DB_PATH": str(country_database(self.folder / "country.mmdb")),
            "BACKEND_HTTP_LISTEN_ADDR": f"127.0.0.1:{self.http_port}",
            "BACKEND_GRPC_PUSH_LISTEN_ADDR": f"127.0.0.1:{self.grpc_port}",
            "BACKEND_OTEL_ENDPOINT": f"http://127.0.0.1:{self.collector_port}",
            "BACKEND_OTEL_PROMETHEUS_LISTEN_ADDR": f"127.0.0.1:{self.metrics_port}",
            # The sandbox engine must never create a bridge network, nor pull.
            "BACKEND_DOCKER_NETWORK": "host",
            "BACKEND_GATEWAY_TOKEN": GATEWAY_TOKEN,  # the runbook's placeholder is refused
        }
        unknown = set(places) - set(written)
        assert not unknown, f"the runbook's galaxy.env no longer sets {unknown}"
        configured = {**written, **places}
        if self.driver == "docker":
            configured |= {
                "BACKEND_DOCKER_HOST": os.environ["DOCKER_HOST"],
                "BACKEND_RUNTIME_IMAGE_PULL_POLICY": "never",
                # Its engines are this lane's, to remove at the end: nobody else's.
                "BACKEND_STACK_LABEL": self.stack,
            }
        else:
            configured["BACKEND_RUNTIME_DRIVER"] = "process"
        return configured

    def command(self, block: str) -> str:
        text = block.replace("http://127.0.0.1:8080", self.http)
        # The sandbox's base image stands in for a registry's, which is never pulled here.
        text = text.replace("BASE=python:3.11-slim", "BASE=galaxy-python-base:local")
        kept = [line for line in text.splitlines() if not line.startswith("docker pull")]
        if self.driver != "docker":  # the image steps need a Docker engine
            kept = [line for line in kept if not line.startswith(("make ", "docker "))]
        return "\n".join(kept)

    def shell_environ(self) -> dict[str, str]:
        environ = {
            k: v for k, v in os.environ.items() if not k.startswith(("BACKEND_", "GALAXY_", "PG"))
        }
        # `galaxy` first; PostgreSQL's psql last, in case the system has none.
        environ["PATH"] = f"{BIN}:{environ.get('PATH', '')}:{self.postgres.binaries}"
        return environ | self.postgres.libpq_environ()


def run_block(lane: Lane, block: str) -> subprocess.CompletedProcess[str]:
    cwd = ROOT if block.lstrip().startswith("make ") else lane.folder  # make: in the checkout
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=cwd,
        env=lane.shell_environ(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{block}\n{result.stdout}\n{result.stderr}"
    return result


def start_block(lane: Lane, block: str) -> tuple[GalaxyProcess, list[str]]:
    """Run a block whose last command is `galaxy run`; once the service is ready, the
    process and what the block printed before (galaxy migrate's lines)."""
    script = re.sub(r"^galaxy run\b", "exec galaxy run", block.rstrip(), flags=re.M)
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=lane.folder,
        env=lane.shell_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    before: list[str] = []
    lines: list[dict[str, Any]] = []
    for raw in process.stdout:
        if not raw.startswith("{"):
            before.append(raw.rstrip())
            continue
        line = json.loads(raw)  # once galaxy run logs, every line is JSON
        lines.append(line)
        if line["msg"] == "galaxy.ready":
            server = GalaxyProcess(process, line, lines)
            server.drain()
            return server, before
    with process:  # on leaving: closes its pipes
        process.wait(timeout=30)
        assert process.stderr is not None
        stderr = process.stderr.read()
    raise AssertionError(f"galaxy exited before it was ready: {before} {lines} {stderr}")


def remove_engine_containers(stack: str) -> None:
    listed = docker("ps", "-aq", "--filter", f"label=galaxy.stack={stack}", check=False).stdout
    found = listed.split()
    if found:
        docker("rm", "--force", *found, check=False)


# -- the deployment, end to end ----------------------------------------------------------


@pytest.fixture(params=["process", "docker"])
def lane(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: ExternalPostgres, relay: Relay
) -> Iterator[Lane]:
    if request.param == "docker":
        if not docker_answers():
            pytest.skip("no Docker engine answers (dockerd-sandbox start)")
        if not has_image("galaxy-python-base:local"):
            pytest.skip("no galaxy-python-base:local: dockerd-sandbox base-image")
    folder = tmp_path / "deployment"
    folder.mkdir()
    lane = Lane(request.param, folder, postgres, relay)
    yield lane
    if request.param == "docker":
        remove_engine_containers(lane.stack)


async def test_the_runbook_deployment_as_written(lane: Lane) -> None:
    deployment = read_deployment()
    configuration = lane.configuration(deployment.env_file)
    (lane.folder / "galaxy.env").write_text(
        "".join(f"{name}={value}\n" for name, value in configuration.items())
    )
    run_at = next(i for i, block in enumerate(deployment.blocks) if "\ngalaxy run" in block)
    for block in deployment.blocks[:run_at]:  # the database, the engine image
        if lane.command(block).strip():
            run_block(lane, lane.command(block))
    if lane.driver == "docker":
        assert has_image(f"galaxy-engine:{__version__}")

    server, migrated_lines = start_block(lane, lane.command(deployment.blocks[run_at]))
    try:
        # galaxy migrate applied everything before galaxy run started.
        assert migrated_lines and all(line.startswith("applied") for line in migrated_lines)
        migrated = next(line for line in server.lines if line["msg"] == "db.migrated")
        assert migrated["applied_now"] == []
        assert not [line for line in server.lines if line["msg"] == "config.fallback"]
        # Every listener starts cleanly: no warning about the metrics app's lifespan.
        assert not [line for line in server.lines if "Lifespan" in line["msg"]]
        assert "***" in server.ready["database"] and "change-me" not in server.ready["database"]

        for block in deployment.blocks[run_at + 1 :]:  # the checks
            checked = run_block(lane, lane.command(block))
            assert '"status":"ready"' in checked.stdout.replace(" ", "")
            assert "root  [supervisor]  running" in checked.stdout

        await play_a_turn(lane, server)
    finally:
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=60)
        stopped_in = time.monotonic() - started
        assert server.process.stderr is not None
        stderr = server.process.stderr.read()
        server.close()
    assert code == 0
    assert stderr == ""
    # Docker's default stop grace is 10 s: with the collector down too, the stop fits in it.
    assert stopped_in < 10, stopped_in
    assert "galaxy.stopped" in [line["msg"] for line in server.lines]


async def play_a_turn(lane: Lane, server: GalaxyProcess) -> None:
    admin = httpx.BasicAuth("ops", "change-me-three")  # the runbook's bootstrap admin
    gateway = {"Authorization": f"Bearer {GATEWAY_TOKEN}"}
    async with httpx.AsyncClient(base_url=lane.http, timeout=60, headers=gateway) as client:
        gw = Gatewayish(client, lane.relay.codes)
        owner = await gw.register("owner@example.org")
        guest = await gw.register("guest@example.org")
        gid = await gw.running_game(owner, guest, f"Production {lane.driver}")
        async with httpx.AsyncClient(base_url=lane.http) as stranger:  # not the gateway
            refused = await stranger.get(
                "/api/v1/user/account", headers={"X-User-ID": owner["user"]}
            )
            assert refused.status_code == 401, refused.text
        runtime = (await client.get(f"/api/v1/admin/runtimes/{gid}", auth=admin)).json()
        assert runtime["record"]["driver"] == lane.driver, runtime
        forced = await client.post(f"/api/v1/admin/runtimes/{gid}/force-next-turn", auth=admin)
        assert forced.status_code == 200 and forced.json()["turn"] == 1, forced.text
        report = await gw.call(owner, "GET", f"/games/{gid}/reports/latest")
        assert report.status_code == 200 and report.json()["turn"] == 1, report.text


# -- start-up failures: one line, naming what failed and where --------------------------------


def production_environ(
    folder: Path, postgres: ExternalPostgres, relay: Relay, **overrides: str
) -> dict[str, str]:
    lane = Lane("process", folder, postgres, relay)
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("BACKEND_", "GALAXY_", "PG"))
    }
    environ |= lane.configuration(read_deployment().env_file)
    environ |= {"BACKEND_OTEL_TRACES_EXPORTER": "none", "BACKEND_OTEL_METRICS_EXPORTER": "none"}
    return environ | overrides


def galaxy_fails(environ: dict[str, str], *args: str) -> tuple[str, list[dict[str, Any]]]:
    result = subprocess.run(
        [str(BIN / "galaxy"), *args], env=environ, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    logged = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.stderr, logged


def assert_one_line(stderr: str, logged: list[dict[str, Any]], expected: str) -> None:
    assert stderr == f"galaxy: {expected}\n"
    failed = [line for line in logged if line["msg"] == "galaxy.failed"]
    assert [line["error"] for line in failed] == [expected]
    assert "Traceback" not in json.dumps(logged)


def test_a_wrong_database_password_is_named(
    tmp_path: Path, postgres: ExternalPostgres, relay: Relay
) -> None:
    postgres.create_service_database("galaxy", "change-me", "galaxy")
    wrong = f"postgres://galaxy:wrong@{postgres.address}/galaxy?search_path=backend"
    environ = production_environ(tmp_path, postgres, relay, BACKEND_POSTGRES_DSN=wrong)
    expected = f'PostgreSQL at {postgres.address}: password authentication failed for user "galaxy"'
    assert_one_line(*galaxy_fails(environ, "run"), expected)
    stderr, _ = galaxy_fails(environ, "migrate")
    assert stderr == f"galaxy: {expected}\n"


def test_an_unreachable_database_is_named(
    tmp_path: Path, postgres: ExternalPostgres, relay: Relay
) -> None:
    port = free_loopback_port()  # nothing listens there
    dsn = f"postgres://galaxy:change-me@127.0.0.1:{port}/galaxy?search_path=backend"
    environ = production_environ(tmp_path, postgres, relay, BACKEND_POSTGRES_DSN=dsn)
    assert_one_line(
        *galaxy_fails(environ, "run"), f"PostgreSQL at 127.0.0.1:{port}: Connection refused"
    )


def test_a_listen_address_in_use_is_named(
    tmp_path: Path, postgres: ExternalPostgres, relay: Relay
) -> None:
    import socket

    postgres.create_service_database("galaxy", "change-me", "galaxy")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environ = production_environ(
            tmp_path, postgres, relay, BACKEND_HTTP_LISTEN_ADDR=f"127.0.0.1:{port}"
        )
        assert_one_line(
            *galaxy_fails(environ, "run"), f"HTTP listen address 127.0.0.1:{port} is in use"
        )


def test_an_unreachable_docker_engine_is_named(
    tmp_path: Path, postgres: ExternalPostgres, relay: Relay
) -> None:
    postgres.create_service_database("galaxy", "change-me", "galaxy")
    socket_path = tmp_path / "no-docker.sock"
    environ = production_environ(
        tmp_path,
        postgres,
        relay,
        BACKEND_RUNTIME_DRIVER="docker",
        BACKEND_DOCKER_HOST=f"unix://{socket_path}",
    )
    stderr, _ = galaxy_fails(environ, "run")
    assert stderr.startswith(f"galaxy: no Docker engine at unix://{socket_path}")
    assert stderr.count("\n") == 1 and "Traceback" not in stderr


def test_migrate_needs_only_the_database(
    tmp_path: Path, postgres: ExternalPostgres, relay: Relay
) -> None:
    postgres.create_service_database("galaxy", "change-me", "galaxy")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("BACKEND_", "GALAXY_"))}
    environ |= {
        "BACKEND_EMBEDDED": "false",
        "BACKEND_POSTGRES_DSN": f"postgres://galaxy:change-me@{postgres.address}/galaxy"
        "?search_path=backend",
    }
    result = subprocess.run(
        [str(BIN / "galaxy"), "migrate"], env=environ, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout and all(line.startswith("applied") for line in result.stdout.splitlines())
    applied = postgres.psql("SELECT count(*) FROM backend.schema_migrations", database="galaxy")
    assert int(applied) == len(result.stdout.splitlines())
