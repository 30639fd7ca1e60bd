"""`galaxy run | migrate | actors | push tail | engine | version`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from galaxy import __version__
from galaxy.config import (
    Config,
    ConfigError,
    DatabaseConfig,
    load_config,
    load_database_config,
    parse_address,
    read_env_file,
)
from galaxy.domain.errors import StartupFailure, find_error

if TYPE_CHECKING:
    from galaxy.app import Endpoints

EXIT_CONFIG = 2
EXIT_FAILURE = 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_CONFIG
    env_file = getattr(args, "env_file", None)
    if env_file is not None:
        try:
            read = read_env_file(env_file)
        except ConfigError as error:
            print(f"galaxy: {error}", file=sys.stderr)
            return EXIT_CONFIG
        for name, value in read.items():  # the process's own environment wins
            os.environ.setdefault(name, value)
    code: int = args.handler(args)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="galaxy",
        description="The Galaxy backend. Configuration comes from BACKEND_* environment variables.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the backend service",
        description="Run the backend: HTTP and gRPC edges and every actor. "
        "With no configuration it starts an embedded PostgreSQL and SMTP sink under "
        "BACKEND_DATA_DIR (default ./.galaxy). SIGINT or SIGTERM stops it gracefully; "
        "a second signal stops it at once.",
    )
    _env_file_option(run)
    run.set_defaults(handler=_cmd_run)

    mig = sub.add_parser(
        "migrate",
        help="apply database migrations, then print applied and pending",
        description="Apply pending migrations to BACKEND_POSTGRES_DSN (or the embedded "
        "database), then print which migrations are applied and which are pending.",
    )
    mig.add_argument("--dry-run", action="store_true", help="report only; apply nothing")
    _env_file_option(mig)
    mig.set_defaults(handler=_cmd_migrate)

    actors = sub.add_parser(
        "actors",
        help="print the live actor tree of a running instance",
        description="Read GET /api/v1/admin/actors of a running instance and print it as an "
        "indented tree with status, mailbox depth and restarts. Credentials: --user and "
        "GALAXY_ADMIN_PASSWORD, else BACKEND_ADMIN_BOOTSTRAP_USER/_PASSWORD, else the "
        "embedded instance's generated admin password.",
    )
    actors.add_argument("--url", help="base URL (default: from BACKEND_HTTP_LISTEN_ADDR)")
    actors.add_argument("--user", help="admin user name")
    actors.add_argument("--json", action="store_true", help="print the raw JSON snapshot")
    actors.add_argument(
        "--cluster",
        action="store_true",
        help="every live instance sharing the database, with its tree and games "
        "(GET /api/v1/admin/cluster)",
    )
    _env_file_option(actors)
    actors.set_defaults(handler=_cmd_actors)

    push = sub.add_parser("push", help="the push stream, as a gateway sees it")
    push_sub = push.add_subparsers(dest="push_command", metavar="COMMAND", required=True)
    tail = push_sub.add_parser(
        "tail",
        help="print push events as they arrive",
        description="Subscribe to SubscribePush as a gateway would and print each event as a "
        "JSON line. Status goes to stderr. Note: a second stream with the same gateway id "
        "replaces the first (use an id of its own, not a live gateway's).",
    )
    tail.add_argument("--gateway-id", required=True, help="gateway_client_id to subscribe as")
    tail.add_argument("--cursor", default="", help="resume after this cursor")
    tail.add_argument(
        "--address",
        help="HOST:PORT of the gRPC listener (default: from BACKEND_GRPC_PUSH_LISTEN_ADDR)",
    )
    tail.add_argument("--count", type=int, help="stop after this many events")
    tail.add_argument(
        "--token",
        help="the gateway's bearer token (default: GALAXY_GATEWAY_TOKEN, else the first of "
        "BACKEND_GATEWAY_TOKEN)",
    )
    tail.add_argument("--ca-file", help="CA bundle to verify a TLS listener with")
    tail.add_argument("--cert-file", help="client certificate, for mutual TLS")
    tail.add_argument("--key-file", help="client key, for mutual TLS")
    _env_file_option(tail)
    tail.set_defaults(handler=_cmd_push_tail)

    engine = sub.add_parser(
        "engine",
        help="run the reference game engine for one game",
        description="Run the game engine (ENGINE.md) over HTTP. All state lives in "
        "STATE_DIR/state.json; a restarted engine resumes at its last completed turn.",
    )
    engine.add_argument("--state-dir", required=True, type=Path, help="where the game lives")
    engine.add_argument(
        "--listen", default="127.0.0.1:8080", help="HOST:PORT to serve on (default 127.0.0.1:8080)"
    )
    engine.set_defaults(handler=_cmd_engine)

    version = sub.add_parser("version", help="print the version", description="Print the version.")
    version.set_defaults(handler=lambda _args: _print(f"galaxy {__version__}"))
    return parser


def _env_file_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--env-file",
        type=Path,
        metavar="FILE",
        help="read BACKEND_* settings from FILE (NAME=value a line, values taken literally, "
        "as systemd's EnvironmentFile and docker's --env-file read it); the environment wins",
    )


def _print(text: str) -> int:
    print(text)
    return 0


def _load(environ: Mapping[str, str] | None = None) -> Config | None:
    try:
        return load_config(os.environ if environ is None else environ)
    except ConfigError as error:
        print(f"galaxy: {error}", file=sys.stderr)
        return None


def _load_database() -> DatabaseConfig | None:
    try:
        return load_database_config(os.environ)
    except ConfigError as error:
        print(f"galaxy: {error}", file=sys.stderr)
        return None


def startup_failure(error: BaseException) -> StartupFailure | None:
    """The `StartupFailure` inside whatever the nurseries wrapped it in, if there is one."""
    return find_error(error, StartupFailure)


# -- run -----------------------------------------------------------------------


def _cmd_engine(args: argparse.Namespace) -> int:
    # Imported here: the engine image carries only what the engine needs.
    from galaxy.engine.server import main as engine_main

    return engine_main(args.state_dir, args.listen)


def _cmd_run(_args: argparse.Namespace) -> int:
    config = _load()
    if config is None:
        return EXIT_CONFIG
    from galaxy.logging import configure_logging

    configure_logging(config.logging_level, config.telemetry.service_name)
    try:
        trio.run(_run_until_signalled, config)
    except Exception as error:
        import structlog

        log = structlog.get_logger("galaxy")
        failure = startup_failure(error)
        if failure is None:  # a bug, not the environment: the whole traceback, for its report
            log.error("galaxy.failed", error=_one_line(error))  # noqa: TRY400 (on stderr below)
            traceback.print_exception(error, file=sys.stderr)
            return EXIT_FAILURE
        # The environment stopped the start (a port in use, a wrong password): one line says
        # what and where; the traceback is for developers, at debug level.
        log.error("galaxy.failed", error=str(failure))  # noqa: TRY400 (debug only, below)
        log.debug("galaxy.failed_traceback", exc_info=error)
        print(f"galaxy: {failure}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _one_line(error: BaseException) -> str:
    """The innermost error of a nursery's group, as `Type: message`."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return f"{type(error).__name__}: {error}"


async def _run_until_signalled(config: Config) -> None:
    import structlog

    from galaxy import heap
    from galaxy.app import Service

    log = structlog.get_logger("galaxy")
    service = Service(config)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                received = 0
                async for signum in signals:
                    received += 1
                    name = signal.Signals(signum).name
                    if received == 1:
                        log.info("galaxy.shutdown", signal=name)
                        service.stop()
                    else:
                        log.warning("galaxy.shutdown_forced", signal=name)
                        nursery.cancel_scope.cancel()

            nursery.start_soon(watch)

            async def serve(task_status: trio.TaskStatus[Endpoints]) -> None:
                try:
                    await service.run(task_status=task_status)
                finally:
                    nursery.cancel_scope.cancel()  # the service is done: stop watching

            endpoints = await nursery.start(serve)
            heap.settle()  # what start-up made lives as long as the process
            if sys.stdout.isatty():
                print(banner_text(endpoints), flush=True)


# -- migrate -----------------------------------------------------------------------


def _cmd_migrate(args: argparse.Namespace) -> int:
    database = _load_database()  # a migration needs the database, and validates nothing else
    if database is None:
        return EXIT_CONFIG

    async def go() -> int:
        from galaxy.app import database_dsn
        from galaxy.store.migrate import migrate

        async with database_dsn(database.dsn, database.data_dir) as dsn:
            report = await migrate(dsn, apply=not args.dry_run)
        for label in report.applied:
            marker = " (applied now)" if label in report.applied_now else ""
            print(f"applied  {label}{marker}")
        for label in report.pending:
            print(f"pending  {label}")
        return 0

    from galaxy.store.migrate import MigrationError

    try:
        return trio.run(go)
    except Exception as error:
        # What the operator must fix (a refused connection, a changed migration), in one
        # line; anything else is a bug and keeps its traceback.
        failure = startup_failure(error) or find_error(error, MigrationError)
        if failure is None:
            raise
        print(f"galaxy: {failure}", file=sys.stderr)
        return EXIT_FAILURE


# -- actors --------------------------------------------------------------------------


def _cmd_actors(args: argparse.Namespace) -> int:
    import httpx

    from galaxy.actors import render_tree

    env = os.environ
    url = args.url or _default_url(env)
    credentials = _admin_credentials(args.user, env)
    if credentials is None:
        print(
            "galaxy: no admin credentials: pass --user with GALAXY_ADMIN_PASSWORD, "
            "or set BACKEND_ADMIN_BOOTSTRAP_USER/_PASSWORD",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    path = "/api/v1/admin/cluster" if args.cluster else "/api/v1/admin/actors"
    try:
        response = httpx.get(f"{url.rstrip('/')}{path}", auth=credentials, timeout=10)
    except httpx.HTTPError as error:
        print(f"galaxy: cannot reach {url}: {error}", file=sys.stderr)
        return EXIT_FAILURE
    if response.status_code != 200:
        print(f"galaxy: {url} answered {response.status_code}: {response.text}", file=sys.stderr)
        return EXIT_FAILURE
    body = response.json()
    if args.json:
        print(json.dumps(body, indent=2))
    elif args.cluster:
        print("\n".join(render_cluster(body["instances"])))
    elif body.get("root") is None:
        print("(no actors)")
    else:
        print("\n".join(render_tree(body["root"])))
    return 0


def render_cluster(instances: list[dict[str, Any]]) -> list[str]:
    """`galaxy actors --cluster`: each instance's line, then its tree indented under it."""
    from galaxy.actors import render_tree

    lines: list[str] = []
    for instance in instances:
        this = "  (answered)" if instance["this_instance"] else ""
        games = len(instance["games"])
        lines.append(
            f"instance {instance['instance_id']}{this}  {instance['address'] or '(no address)'}"
            f"  version {instance['version']}  games {games}"
            f"  heartbeat {instance['heartbeat_at']}"
        )
        tree = instance["tree"]
        lines.extend(render_tree(tree, "  ") if tree is not None else ["  (no tree yet)"])
    return lines or ["(no instances)"]


def _cmd_push_tail(args: argparse.Namespace) -> int:
    from grpclib import GRPCError

    from galaxy.push.client import event_to_json, run_client, subscribe

    try:
        address = parse_address(
            args.address or os.environ.get("BACKEND_GRPC_PUSH_LISTEN_ADDR") or ":8081"
        )
    except ValueError as error:
        print(f"galaxy: --address: {error}", file=sys.stderr)
        return EXIT_CONFIG

    token = args.token or os.environ.get("GALAXY_GATEWAY_TOKEN")
    if token is None and os.environ.get("BACKEND_GATEWAY_TOKEN"):
        token = os.environ["BACKEND_GATEWAY_TOKEN"].split(",")[0].strip()
    context = None
    if args.ca_file or args.cert_file:
        import ssl

        context = ssl.create_default_context(cafile=args.ca_file)
        context.set_alpn_protocols(["h2"])
        if args.cert_file:
            context.load_cert_chain(args.cert_file, args.key_file)

    async def tail() -> int:
        async with subscribe(
            address.connect_host,
            address.port,
            args.gateway_id,
            args.cursor,
            token=token,
            ssl=context,
        ) as subscription:
            print(f"subscribed ({subscription.resume})", file=sys.stderr, flush=True)
            seen = 0
            async for event in subscription:
                print(json.dumps(event_to_json(event)), flush=True)
                seen += 1
                if args.count is not None and seen >= args.count:
                    return 0
        print("stream ended", file=sys.stderr)
        return 0

    try:
        return run_client(tail())
    except GRPCError as error:
        print(f"galaxy: {error.status.name}: {error.message}", file=sys.stderr)
        return EXIT_FAILURE
    except (ConnectionError, OSError) as error:
        print(f"galaxy: cannot reach {address}: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 0


def _default_url(env: Mapping[str, str]) -> str:
    try:
        address = parse_address(env.get("BACKEND_HTTP_LISTEN_ADDR") or ":8080")
    except ValueError:
        address = parse_address(":8080")
    return f"http://{address.connect_host}:{address.port}"


def _admin_credentials(user: str | None, env: Mapping[str, str]) -> tuple[str, str] | None:
    if user:
        password = env.get("GALAXY_ADMIN_PASSWORD")
        if password is None and user == env.get("BACKEND_ADMIN_BOOTSTRAP_USER"):
            password = env.get("BACKEND_ADMIN_BOOTSTRAP_PASSWORD")
        return (user, password) if password is not None else None
    if env.get("BACKEND_ADMIN_BOOTSTRAP_USER") and env.get("BACKEND_ADMIN_BOOTSTRAP_PASSWORD"):
        return env["BACKEND_ADMIN_BOOTSTRAP_USER"], env["BACKEND_ADMIN_BOOTSTRAP_PASSWORD"]
    from galaxy.app import ADMIN_PASSWORD_FILE, EMBEDDED_ADMIN_USER

    data_dir = Path(env.get("BACKEND_DATA_DIR") or "./.galaxy").expanduser()
    password_file = data_dir / ADMIN_PASSWORD_FILE
    if password_file.exists():
        return EMBEDDED_ADMIN_USER, password_file.read_text().strip()
    return None


def banner_text(endpoints: Endpoints) -> str:
    """The human banner `galaxy run` prints when stdout is a terminal."""
    rows = [
        ("HTTP", endpoints.http),
        ("gRPC push", endpoints.grpc),
        ("database", endpoints.database),
        (
            "mail sink",
            f"{endpoints.mail_sink}  (messages in {endpoints.maildir})"
            if endpoints.mail_sink
            else "external SMTP relay",
        ),
        ("metrics", endpoints.metrics or "not exported over HTTP"),
        (
            "admin",
            f"{endpoints.admin_user} (password in {endpoints.admin_password_file})"
            if endpoints.admin_password_file
            else (endpoints.admin_user or "no bootstrap admin"),
        ),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"galaxy {__version__} is ready"]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
    lines.append("  actors   galaxy actors   (Ctrl-C stops)")
    return "\n".join(lines)
