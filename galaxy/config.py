"""`BACKEND_*` environment → one frozen `Config`.

Every variable of seeds/backend-README.md §4 is read here with the default the
seeds give, plus the few this service adds (`BACKEND_EMBEDDED`,
`BACKEND_DATA_DIR`, `BACKEND_HTTP_MAX_BODY_BYTES`, `BACKEND_MAIL_WORKERS`,
`BACKEND_PUSH_BUFFER_CAPACITY`, `BACKEND_PUSH_SUBSCRIBER_QUEUE`).
`load_config` reports every problem at once: each names its variable, so an
operator fixes a deployment in one pass instead of one restart per typo.

Embedded defaults (ARCHITECTURE.md §7): while `BACKEND_EMBEDDED` is true (the
default), a missing required variable is not an error; the config records a
`Fallback` for it, which the application resolves (embedded PostgreSQL, SMTP
sink, …) and logs once. `BACKEND_EMBEDDED=false` restores fail-fast.
"""

import difflib
import re
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from galaxy.domain.docker_host import parse_docker_host
from galaxy.domain.durations import parse_duration
from galaxy.domain.gateway_credentials import GatewayCredentials, parse_gateway_tokens
from galaxy.tls import TLSConfig, server_context

T = TypeVar("T")

TLSMode = Literal["none", "starttls", "tls"]
PullPolicy = Literal["if_missing", "always", "never"]
TracesExporter = Literal["none", "otlp", "stdout"]
MetricsExporter = Literal["none", "otlp", "stdout", "prometheus"]
OTLPProtocol = Literal["grpc", "http/protobuf"]
LogLevel = Literal["debug", "info", "warning", "error"]


class ConfigError(Exception):
    """The environment does not describe a runnable service; `problems` lists why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Address:
    """A listen address. An empty host (`:8080`) means every interface."""

    host: str
    port: int

    @property
    def bind_host(self) -> str:
        return self.host or "0.0.0.0"

    @property
    def bind_text(self) -> str:
        """The address as bound (`0.0.0.0:8080` for `:8080`), for messages."""
        host = self.bind_host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def connect_host(self) -> str:
        """Where a local client reaches a listener bound to this address."""
        return "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Fallback:
    """A required variable that was missing and is replaced by an embedded default."""

    variable: str
    replacement: str


@dataclass(frozen=True)
class HTTPConfig:
    listen: Address
    read_timeout: float
    write_timeout: float
    shutdown_timeout: float
    max_body_bytes: int
    idle_timeout: float = 75.0  # an idle keep-alive connection is closed after this
    backlog: int = 1024  # connections the kernel queues before accept


@dataclass(frozen=True)
class GRPCConfig:
    listen: Address
    shutdown_timeout: float
    backlog: int = 1024


@dataclass(frozen=True)
class PushConfig:
    buffer_capacity: int  # ring buffer ceiling (events), besides the freshness TTL
    subscriber_queue: int  # per gateway stream; overflow drops the oldest
    max_subscribers: int = 64  # open streams at once; a new gateway id past it is refused


@dataclass(frozen=True)
class PostgresConfig:
    # libpq conninfo, normalised once here (`domain.dsn.normalize_dsn`) from whichever form
    # the operator wrote; every consumer uses it as is. None: embedded PostgreSQL.
    dsn: str | None = field(repr=False)
    max_conns: int
    min_conns: int
    operation_timeout: float


@dataclass(frozen=True)
class SMTPConfig:
    host: str | None  # None: embedded SMTP sink under the data directory
    port: int
    username: str | None
    password: str | None = field(repr=False)
    from_address: str
    tls_mode: TLSMode
    sink_port: int = 0  # the embedded sink's port: BACKEND_SMTP_PORT when set, else any free one
    timeout: float = 30.0
    ca_file: Path | None = None  # a private relay's CA bundle; None: the system's


@dataclass(frozen=True)
class MailConfig:
    worker_interval: float
    max_attempts: int
    workers: int
    retry_initial: float  # the first retry's delay; doubling, with jitter, up to retry_max
    retry_max: float


@dataclass(frozen=True)
class DockerConfig:
    host: str
    network: str


@dataclass(frozen=True)
class SwarmConfig:
    """The swarm driver's own settings (BACKEND_SWARM_*); the rest it shares with docker."""

    constraints: tuple[str, ...] = ()  # placement constraints, e.g. node.labels.engines==1
    volume_driver: str = "local"
    volume_opts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuntimeConfig:
    game_state_root: Path
    worker_pool_size: int
    job_queue_size: int
    reconcile_interval: float
    image_pull_policy: PullPolicy
    container_log_driver: str
    container_log_opts: Mapping[str, str]
    container_cpu_quota: float
    container_memory_bytes: int
    container_pids_limit: int
    container_state_mount: str
    stop_grace_period: float
    stack_label: str | None
    driver: str  # auto, docker, swarm or process
    probe_interval: float
    probe_failures: int
    start_timeout: float


@dataclass(frozen=True)
class AdminConfig:
    bootstrap_user: str | None
    bootstrap_password: str | None = field(repr=False)


@dataclass(frozen=True)
class GeoConfig:
    db_path: Path | None  # None: geo lookups disabled


@dataclass(frozen=True)
class TelemetryConfig:
    traces_exporter: TracesExporter
    metrics_exporter: MetricsExporter
    protocol: OTLPProtocol
    endpoint: str | None
    prometheus_listen: Address
    service_name: str


@dataclass(frozen=True)
class AuthConfig:
    challenge_ttl: float
    challenge_max_attempts: int
    throttle_window: float
    throttle_max: int
    username_max_retries: int
    wrong_codes_max: int  # per address across challenges, in PostgreSQL
    wrong_codes_window: float
    client_send_max: int  # per client address, per process
    client_send_window: float
    client_confirm_max: int  # failed confirmations per client address, per process
    client_confirm_window: float


@dataclass(frozen=True)
class LobbyConfig:
    sweeper_interval: float
    pending_registration_ttl: float
    invite_default_ttl: float


@dataclass(frozen=True)
class EngineConfig:
    call_timeout: float
    probe_timeout: float


@dataclass(frozen=True)
class NotificationConfig:
    admin_email: str | None
    worker_interval: float
    max_attempts: int


@dataclass(frozen=True)
class DiplomailConfig:
    max_body_bytes: int
    max_subject_bytes: int
    translator_url: str | None
    translator_timeout: float
    translator_max_attempts: int
    worker_interval: float


INSTANCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class InstanceConfig:
    """This process as a member of the instances sharing one database (docs/runbook.md,
    "Instances").

    The id names it in `GET /api/v1/admin/cluster` and in every lease it will hold;
    the registration expires `ttl` after the last heartbeat, so a crashed instance
    drops out on its own.
    """

    instance_id: str
    address: str | None  # how the other instances reach its HTTP listener; None: derived
    heartbeat_interval: float
    ttl: float
    # A game's lease (one owner per game): it lapses `lease_ttl` after its holder's last
    # renewal, which comes every `lease_renew_interval`; after a crash, the games are
    # owned elsewhere within about `lease_ttl` (docs/runbook.md, "Instances").
    lease_ttl: float = 15.0
    lease_renew_interval: float = 5.0


def generated_instance_id() -> str:
    """The default id: the host's name and a random suffix, new at every start."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()).strip("-._")[:40] or "galaxy"
    return f"{host}-{secrets.token_hex(3)}"


def parse_instance_id(text: str) -> str:
    value = text.strip()
    if not INSTANCE_ID.match(value):
        raise ValueError(
            f"{text!r} is not 1 to 63 letters, digits, '.', '_' or '-' starting with a "
            "letter or digit"
        )
    return value


def parse_instance_address(text: str) -> str:
    """An http(s) base URL without a path: `http://10.0.0.5:8080`."""
    from urllib.parse import urlsplit

    value = text.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
        raise ValueError(f"{text!r} is not a base URL such as http://10.0.0.5:8080")
    try:
        parts.port  # noqa: B018 - raises for a port that is no number
    except ValueError:
        raise ValueError(f"{text!r} has no valid port") from None
    return value


@dataclass(frozen=True)
class GatewayConfig:
    """How the gateway proves itself on the internal and user surfaces and the push stream."""

    credentials: GatewayCredentials = field(default_factory=GatewayCredentials)
    insecure: bool = False  # BACKEND_GATEWAY_INSECURE: production without a credential, logged
    tls: TLSConfig | None = None

    @property
    def mutual_tls(self) -> bool:
        return self.tls is not None and self.tls.client_ca_file is not None


@dataclass(frozen=True)
class Config:
    embedded: bool
    data_dir: Path
    shutdown_timeout: float
    logging_level: LogLevel
    freshness_window: float
    http: HTTPConfig
    grpc: GRPCConfig
    push: PushConfig
    postgres: PostgresConfig
    smtp: SMTPConfig
    mail: MailConfig
    docker: DockerConfig
    runtime: RuntimeConfig
    admin: AdminConfig
    geo: GeoConfig
    telemetry: TelemetryConfig
    auth: AuthConfig
    lobby: LobbyConfig
    engine: EngineConfig
    notification: NotificationConfig
    diplomail: DiplomailConfig
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    swarm: SwarmConfig = field(default_factory=SwarmConfig)
    instance: InstanceConfig = field(
        default_factory=lambda: InstanceConfig(generated_instance_id(), None, 5.0, 15.0)
    )
    fallbacks: tuple[Fallback, ...] = ()


# ---------------------------------------------------------------------------
# Parsing


def parse_address(text: str) -> Address:
    """`:8080`, `127.0.0.1:8080`, `[::1]:8080`, `localhost:0`."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        raise ValueError(f"{text!r} is not HOST:PORT (for example :8080 or 127.0.0.1:8080)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"{text!r} has no port between 0 and 65535")
    return Address(host, int(port_text))


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_byte_size(text: str) -> int:
    """Docker-style sizes: `512m`, `1g`, `65536`, `64k`."""
    value = text.strip().lower().removesuffix("ib").removesuffix("b")
    number = value.rstrip("kmg")
    unit = value[len(number) :]
    if not number.isdigit() or unit not in _SIZE_UNITS:
        raise ValueError(f"{text!r} is not a size such as 512m or 1g")
    return int(number) * _SIZE_UNITS[unit]


def parse_key_values(text: str) -> dict[str, str]:
    """`max-size=10m,max-file=3` → {'max-size': '10m', 'max-file': '3'}."""
    result: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{item!r} is not key=value")
        result[key.strip()] = value.strip()
    return result


def parse_volume_opts(text: str) -> dict[str, str]:
    """`type=nfs;o=addr=10.0.0.5,rw;device=:/galaxy` → {'type': 'nfs', 'o': 'addr=10.0.0.5,rw',
    'device': ':/galaxy'}: `;` between options, as a mount's `o=` has commas of its own."""
    result: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item!r} is not key=value")
        result[key.strip()] = value.strip()
    return result


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (true or false)")


def check_email_address(text: str) -> None:
    """A bare address (`galaxy@example.org`); deliverability is the relay's business."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(text, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{text!r} is not an e-mail address ({exc})") from None


def check_absolute_path(text: str) -> None:
    if not Path(text).is_absolute():
        raise ValueError(f"{text!r} is not an absolute path")


def check_country_database(text: str) -> None:
    """A readable MaxMind database (GeoLite2/GeoIP2 Country): opened once, here, so a wrong
    file stops the start instead of silently switching geo off."""
    import maxminddb

    try:
        with maxminddb.open_database(text) as reader:
            kind = reader.metadata().database_type
    except FileNotFoundError:
        raise ValueError(f"{text} does not exist") from None
    except (OSError, maxminddb.InvalidDatabaseError) as exc:
        raise ValueError(f"{text} is not a readable MaxMind database ({exc})") from None
    if "Country" not in kind and "City" not in kind:
        raise ValueError(f"{text} is a {kind!r} database, not a Country (or City) one")


class _Reader:
    """Reads variables and collects every problem instead of stopping at the first."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.problems: list[str] = []
        self.embedded = True  # set from BACKEND_EMBEDDED before any required variable is read
        self.fallbacks: list[Fallback] = []
        self.known: set[str] = set()  # every variable asked for: the ones this build reads

    def required(self, name: str, replacement: str) -> str | None:
        """A variable production must set; embedded mode records a fallback instead."""
        value = self.raw(name)
        if value is None:
            if self.embedded:
                self.fallbacks.append(Fallback(name, replacement))
            else:
                self.problems.append(f"{name}: required (set it, or BACKEND_EMBEDDED=true)")
        return value

    def check(self, name: str, value: T | None, checker: Callable[[T], object]) -> None:
        """Run `checker` on a value that is set; its ValueError becomes a problem of `name`."""
        if value is None:
            return
        try:
            checker(value)
        except ValueError as exc:
            self.problems.append(f"{name}: {exc}")

    def raw(self, name: str) -> str | None:
        self.known.add(name)
        value = self._environ.get(name)
        return value if value is not None and value.strip() != "" else None

    def parse(self, name: str, default: str, parser: Callable[[str], T]) -> T:
        text = self.raw(name)
        if text is not None:
            try:
                return parser(text)
            except ValueError as exc:
                self.problems.append(f"{name}: {exc}")
        return parser(default)

    def text(self, name: str) -> str | None:
        return self.raw(name)

    def text_default(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def duration(self, name: str, default: str) -> float:
        return self.parse(name, default, parse_duration)

    def integer(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        def parse(text: str) -> int:
            if not text.strip().isascii() or not text.strip().lstrip("-").isdigit():
                raise ValueError(f"{text!r} is not a whole number")
            value = int(text)
            if value < minimum:
                raise ValueError(f"{value} is below the minimum {minimum}")
            if maximum is not None and value > maximum:
                raise ValueError(f"{value} is above the maximum {maximum}")
            return value

        return self.parse(name, str(default), parse)

    def number(self, name: str, default: float, minimum: float = 0.0) -> float:
        def parse(text: str) -> float:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a number") from None
            if value < minimum:
                raise ValueError(f"{value} is below the minimum {minimum}")
            return value

        return self.parse(name, str(default), parse)

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        def parse(text: str) -> str:
            value = text.strip().lower()
            if value not in choices:
                raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
            return value

        return self.parse(name, default, parse)

    def address(self, name: str, default: str) -> Address:
        return self.parse(name, default, parse_address)

    def boolean(self, name: str, default: bool) -> bool:
        return self.parse(name, "true" if default else "false", parse_bool)

    def byte_size(self, name: str, default: str) -> int:
        return self.parse(name, default, parse_byte_size)

    def key_values(self, name: str) -> dict[str, str]:
        return self.parse(name, "", parse_key_values)


# Required variables (seeds §4) and what replaces each in embedded mode.
REQUIRED_VARIABLES = (
    "BACKEND_POSTGRES_DSN",
    "BACKEND_SMTP_HOST",
    "BACKEND_SMTP_FROM",
    "BACKEND_DOCKER_NETWORK",
    "BACKEND_GAME_STATE_ROOT",
    "BACKEND_GEOIP_DB_PATH",
)


@dataclass(frozen=True)
class DatabaseConfig:
    """What `galaxy migrate` needs, and so all it validates."""

    embedded: bool
    data_dir: Path
    dsn: str | None = field(repr=False)  # normalised; None: embedded PostgreSQL
    fallbacks: tuple[Fallback, ...] = ()


def load_database_config(environ: Mapping[str, str]) -> DatabaseConfig:
    """The database part of the config alone; raise `ConfigError` listing every problem."""
    r = _Reader(environ)
    database = _database(r)
    if r.problems:
        raise ConfigError(r.problems)
    return database


def _database(r: _Reader) -> DatabaseConfig:
    r.embedded = r.boolean("BACKEND_EMBEDDED", True)
    data_dir = Path(r.text_default("BACKEND_DATA_DIR", "./.galaxy")).expanduser().absolute()
    written = r.required("BACKEND_POSTGRES_DSN", f"embedded PostgreSQL in {data_dir / 'postgres'}")
    dsn = None
    if written is not None:
        # Imported here: psycopg is not in the engine image, whose `galaxy` reads no DSN.
        from galaxy.domain.dsn import normalize_dsn

        try:
            dsn = normalize_dsn(written)
        except ValueError as exc:
            r.problems.append(f"BACKEND_POSTGRES_DSN: {exc}")
    return DatabaseConfig(r.embedded, data_dir, dsn, tuple(r.fallbacks))


def load_config(environ: Mapping[str, str]) -> Config:
    """Build the config from `environ`; raise `ConfigError` listing every problem."""
    r = _Reader(environ)
    database = _database(r)
    embedded, data_dir, required = database.embedded, database.data_dir, r.required
    # A developer's embedded instance is for this machine only; production binds what it says.
    default_host = "127.0.0.1" if embedded else ""
    fallbacks = r.fallbacks
    explicit_exporters = {
        "traces": r.raw("BACKEND_OTEL_TRACES_EXPORTER"),
        "metrics": r.raw("BACKEND_OTEL_METRICS_EXPORTER"),
    }

    smtp_host = required(
        "BACKEND_SMTP_HOST", f"embedded SMTP sink keeping mail in {data_dir / 'mail'}"
    )
    smtp_from = required("BACKEND_SMTP_FROM", "galaxy@localhost")
    r.check("BACKEND_SMTP_FROM", smtp_from, check_email_address)
    docker_network = required("BACKEND_DOCKER_NETWORK", "host")
    state_root = required("BACKEND_GAME_STATE_ROOT", str(data_dir / "games"))
    r.check("BACKEND_GAME_STATE_ROOT", state_root, check_absolute_path)
    geoip_path = required("BACKEND_GEOIP_DB_PATH", "geo lookups disabled")
    r.check("BACKEND_GEOIP_DB_PATH", geoip_path, check_country_database)
    docker_host = r.parse("BACKEND_DOCKER_HOST", "unix:///var/run/docker.sock", parse_docker_host)
    admin_email = r.text("BACKEND_NOTIFICATION_ADMIN_EMAIL")
    r.check("BACKEND_NOTIFICATION_ADMIN_EMAIL", admin_email, check_email_address)

    # An OTLP exporter with no collector logs export failures forever; with no
    # exporter chosen, a developer's embedded instance exports nothing.
    default_exporter = "none" if embedded else "otlp"
    for signal, value in explicit_exporters.items():
        if value is None and embedded:
            fallbacks.append(Fallback(f"BACKEND_OTEL_{signal.upper()}_EXPORTER", "none"))

    bootstrap_user = r.text("BACKEND_ADMIN_BOOTSTRAP_USER")
    bootstrap_password = r.text("BACKEND_ADMIN_BOOTSTRAP_PASSWORD")
    if bootstrap_user and not bootstrap_password:
        r.problems.append(
            "BACKEND_ADMIN_BOOTSTRAP_PASSWORD: required when BACKEND_ADMIN_BOOTSTRAP_USER is set"
        )
    if bootstrap_password and not bootstrap_user:
        r.problems.append(
            "BACKEND_ADMIN_BOOTSTRAP_USER: required when BACKEND_ADMIN_BOOTSTRAP_PASSWORD is set"
        )

    if embedded and not bootstrap_user:
        fallbacks.append(
            Fallback(
                "BACKEND_ADMIN_BOOTSTRAP_USER",
                f"admin, with a generated password in {data_dir / 'admin-password'}",
            )
        )

    smtp_port = r.integer("BACKEND_SMTP_PORT", 587, minimum=1, maximum=65535)
    smtp_ca = r.text("BACKEND_SMTP_CA_FILE")
    if smtp_ca and not Path(smtp_ca).is_file():
        r.problems.append(f"BACKEND_SMTP_CA_FILE: {smtp_ca} is not a readable file")
    min_conns = r.integer("BACKEND_POSTGRES_MIN_CONNS", 2, minimum=0)
    max_conns = r.integer("BACKEND_POSTGRES_MAX_CONNS", 25, minimum=1)
    if min_conns > max_conns:
        r.problems.append(
            f"BACKEND_POSTGRES_MIN_CONNS: {min_conns} exceeds "
            f"BACKEND_POSTGRES_MAX_CONNS {max_conns}"
        )

    state_mount = r.text_default("BACKEND_RUNTIME_CONTAINER_STATE_MOUNT", "/var/lib/galaxy-game")
    if not state_mount.startswith("/"):
        r.problems.append(f"BACKEND_RUNTIME_CONTAINER_STATE_MOUNT: {state_mount!r} is not absolute")

    translator_url = r.text("BACKEND_DIPLOMAIL_TRANSLATOR_URL")
    if translator_url and not translator_url.startswith(("http://", "https://")):
        r.problems.append(
            f"BACKEND_DIPLOMAIL_TRANSLATOR_URL: {translator_url!r} is not an http(s) URL"
        )

    config = Config(
        embedded=embedded,
        data_dir=data_dir,
        shutdown_timeout=r.duration("BACKEND_SHUTDOWN_TIMEOUT", "30s"),
        logging_level=_log_level(r),
        freshness_window=r.duration("BACKEND_FRESHNESS_WINDOW", "5m"),
        http=HTTPConfig(
            listen=r.address("BACKEND_HTTP_LISTEN_ADDR", f"{default_host}:8080"),
            read_timeout=r.duration("BACKEND_HTTP_READ_TIMEOUT", "30s"),
            write_timeout=r.duration("BACKEND_HTTP_WRITE_TIMEOUT", "30s"),
            shutdown_timeout=r.duration("BACKEND_HTTP_SHUTDOWN_TIMEOUT", "15s"),
            max_body_bytes=r.byte_size("BACKEND_HTTP_MAX_BODY_BYTES", "1m"),
            idle_timeout=r.duration("BACKEND_HTTP_IDLE_TIMEOUT", "75s"),
            backlog=r.integer("BACKEND_HTTP_BACKLOG", 1024, minimum=1, maximum=65535),
        ),
        grpc=GRPCConfig(
            listen=r.address("BACKEND_GRPC_PUSH_LISTEN_ADDR", f"{default_host}:8081"),
            shutdown_timeout=r.duration("BACKEND_GRPC_PUSH_SHUTDOWN_TIMEOUT", "10s"),
            backlog=r.integer("BACKEND_GRPC_PUSH_BACKLOG", 1024, minimum=1, maximum=65535),
        ),
        push=PushConfig(
            buffer_capacity=r.integer("BACKEND_PUSH_BUFFER_CAPACITY", 10_000, minimum=1),
            subscriber_queue=r.integer("BACKEND_PUSH_SUBSCRIBER_QUEUE", 1024, minimum=1),
            max_subscribers=r.integer("BACKEND_PUSH_MAX_SUBSCRIBERS", 64, minimum=1),
        ),
        postgres=PostgresConfig(
            dsn=database.dsn,
            max_conns=max_conns,
            min_conns=min_conns,
            operation_timeout=r.duration("BACKEND_POSTGRES_OPERATION_TIMEOUT", "5s"),
        ),
        smtp=SMTPConfig(
            host=smtp_host,
            port=smtp_port,
            username=r.text("BACKEND_SMTP_USERNAME"),
            password=r.text("BACKEND_SMTP_PASSWORD"),
            from_address=smtp_from or "galaxy@localhost",
            tls_mode=r.choice("BACKEND_SMTP_TLS_MODE", "starttls", ("none", "starttls", "tls")),  # type: ignore[arg-type]
            sink_port=smtp_port if r.raw("BACKEND_SMTP_PORT") else 0,
            timeout=r.duration("BACKEND_SMTP_TIMEOUT", "30s"),
            ca_file=Path(smtp_ca) if smtp_ca else None,
        ),
        mail=MailConfig(
            worker_interval=r.duration("BACKEND_MAIL_WORKER_INTERVAL", "2s"),
            max_attempts=r.integer("BACKEND_MAIL_MAX_ATTEMPTS", 8, minimum=1),
            workers=r.integer("BACKEND_MAIL_WORKERS", 2, minimum=1),
            retry_initial=r.duration("BACKEND_MAIL_RETRY_INITIAL", "10s"),
            retry_max=r.duration("BACKEND_MAIL_RETRY_MAX", "1h"),
        ),
        docker=DockerConfig(
            host=docker_host,
            network=docker_network or "host",
        ),
        runtime=RuntimeConfig(
            game_state_root=Path(state_root or data_dir / "games").absolute(),
            worker_pool_size=r.integer("BACKEND_RUNTIME_WORKER_POOL_SIZE", 4, minimum=1),
            job_queue_size=r.integer("BACKEND_RUNTIME_JOB_QUEUE_SIZE", 64, minimum=1),
            reconcile_interval=r.duration("BACKEND_RUNTIME_RECONCILE_INTERVAL", "60s"),
            image_pull_policy=r.choice(  # type: ignore[arg-type]
                "BACKEND_RUNTIME_IMAGE_PULL_POLICY", "if_missing", ("if_missing", "always", "never")
            ),
            container_log_driver=r.text_default(
                "BACKEND_RUNTIME_CONTAINER_LOG_DRIVER", "json-file"
            ),
            container_log_opts=r.key_values("BACKEND_RUNTIME_CONTAINER_LOG_OPTS"),
            container_cpu_quota=r.number("BACKEND_RUNTIME_CONTAINER_CPU_QUOTA", 2.0, minimum=0.01),
            container_memory_bytes=r.byte_size("BACKEND_RUNTIME_CONTAINER_MEMORY", "512m"),
            container_pids_limit=r.integer("BACKEND_RUNTIME_CONTAINER_PIDS_LIMIT", 256, minimum=1),
            container_state_mount=state_mount,
            stop_grace_period=r.duration("BACKEND_RUNTIME_STOP_GRACE_PERIOD", "10s"),
            stack_label=r.text("BACKEND_STACK_LABEL"),
            driver=r.choice(
                "BACKEND_RUNTIME_DRIVER", "auto", ("auto", "docker", "swarm", "process")
            ),
            probe_interval=r.duration("BACKEND_RUNTIME_PROBE_INTERVAL", "15s"),
            probe_failures=r.integer("BACKEND_RUNTIME_PROBE_FAILURES", 3, minimum=1),
            start_timeout=r.duration("BACKEND_RUNTIME_START_TIMEOUT", "60s"),
        ),
        swarm=SwarmConfig(
            constraints=tuple(
                filter(
                    None, map(str.strip, r.text_default("BACKEND_SWARM_CONSTRAINTS", "").split(","))
                )
            ),
            volume_driver=r.text_default("BACKEND_SWARM_VOLUME_DRIVER", "local"),
            volume_opts=r.parse("BACKEND_SWARM_VOLUME_OPTS", "", parse_volume_opts),
        ),
        admin=AdminConfig(bootstrap_user=bootstrap_user, bootstrap_password=bootstrap_password),
        geo=GeoConfig(db_path=Path(geoip_path) if geoip_path else None),
        telemetry=TelemetryConfig(
            traces_exporter=r.choice(  # type: ignore[arg-type]
                "BACKEND_OTEL_TRACES_EXPORTER", default_exporter, ("none", "otlp", "stdout")
            ),
            metrics_exporter=r.choice(  # type: ignore[arg-type]
                "BACKEND_OTEL_METRICS_EXPORTER",
                default_exporter,
                ("none", "otlp", "stdout", "prometheus"),
            ),
            protocol=r.choice("BACKEND_OTEL_PROTOCOL", "grpc", ("grpc", "http/protobuf")),  # type: ignore[arg-type]
            endpoint=r.text("BACKEND_OTEL_ENDPOINT"),
            prometheus_listen=r.address(
                "BACKEND_OTEL_PROMETHEUS_LISTEN_ADDR", f"{default_host}:9100"
            ),
            service_name=r.text_default("BACKEND_SERVICE_NAME", "galaxy-backend"),
        ),
        auth=AuthConfig(
            challenge_ttl=r.duration("BACKEND_AUTH_CHALLENGE_TTL", "10m"),
            challenge_max_attempts=r.integer("BACKEND_AUTH_CHALLENGE_MAX_ATTEMPTS", 5, minimum=1),
            throttle_window=r.duration("BACKEND_AUTH_CHALLENGE_THROTTLE_WINDOW", "60s"),
            throttle_max=r.integer("BACKEND_AUTH_CHALLENGE_THROTTLE_MAX", 3, minimum=1),
            username_max_retries=r.integer("BACKEND_AUTH_USERNAME_MAX_RETRIES", 10, minimum=1),
            wrong_codes_max=r.integer("BACKEND_AUTH_WRONG_CODES_MAX", 20, minimum=1),
            wrong_codes_window=r.duration("BACKEND_AUTH_WRONG_CODES_WINDOW", "1h"),
            client_send_max=r.integer("BACKEND_AUTH_CLIENT_SEND_MAX", 30, minimum=1),
            client_send_window=r.duration("BACKEND_AUTH_CLIENT_SEND_WINDOW", "10m"),
            client_confirm_max=r.integer("BACKEND_AUTH_CLIENT_CONFIRM_MAX", 30, minimum=1),
            client_confirm_window=r.duration("BACKEND_AUTH_CLIENT_CONFIRM_WINDOW", "10m"),
        ),
        lobby=LobbyConfig(
            sweeper_interval=r.duration("BACKEND_LOBBY_SWEEPER_INTERVAL", "60s"),
            pending_registration_ttl=r.duration("BACKEND_LOBBY_PENDING_REGISTRATION_TTL", "720h"),
            invite_default_ttl=r.duration("BACKEND_LOBBY_INVITE_DEFAULT_TTL", "168h"),
        ),
        engine=EngineConfig(
            call_timeout=r.duration("BACKEND_ENGINE_CALL_TIMEOUT", "60s"),
            probe_timeout=r.duration("BACKEND_ENGINE_PROBE_TIMEOUT", "5s"),
        ),
        notification=NotificationConfig(
            admin_email=admin_email,
            worker_interval=r.duration("BACKEND_NOTIFICATION_WORKER_INTERVAL", "5s"),
            max_attempts=r.integer("BACKEND_NOTIFICATION_MAX_ATTEMPTS", 8, minimum=1),
        ),
        diplomail=DiplomailConfig(
            max_body_bytes=r.integer("BACKEND_DIPLOMAIL_MAX_BODY_BYTES", 4096, minimum=1),
            max_subject_bytes=r.integer("BACKEND_DIPLOMAIL_MAX_SUBJECT_BYTES", 256, minimum=0),
            translator_url=translator_url,
            translator_timeout=r.duration("BACKEND_DIPLOMAIL_TRANSLATOR_TIMEOUT", "10s"),
            translator_max_attempts=r.integer(
                "BACKEND_DIPLOMAIL_TRANSLATOR_MAX_ATTEMPTS", 5, minimum=1
            ),
            worker_interval=r.duration("BACKEND_DIPLOMAIL_WORKER_INTERVAL", "2s"),
        ),
        gateway=_gateway(r, embedded),
        instance=_instance(r),
        fallbacks=tuple(r.fallbacks),
    )
    r.problems += _unknown_variables(environ, r.known)
    if r.problems:
        raise ConfigError(r.problems)
    return config


def _instance(r: _Reader) -> InstanceConfig:
    interval = r.duration("BACKEND_INSTANCE_HEARTBEAT_INTERVAL", "5s")
    ttl = r.duration("BACKEND_INSTANCE_TTL", "15s")
    if interval <= 0:
        r.problems.append("BACKEND_INSTANCE_HEARTBEAT_INTERVAL: must be above zero")
    elif ttl < 2 * interval:
        # One late heartbeat must not look like a crash.
        r.problems.append(
            f"BACKEND_INSTANCE_TTL: {ttl:g}s is below twice "
            f"BACKEND_INSTANCE_HEARTBEAT_INTERVAL ({interval:g}s)"
        )
    lease_interval = r.duration("BACKEND_GAME_LEASE_RENEW_INTERVAL", "5s")
    lease_ttl = r.duration("BACKEND_GAME_LEASE_TTL", "15s")
    if lease_interval <= 0:
        r.problems.append("BACKEND_GAME_LEASE_RENEW_INTERVAL: must be above zero")
    elif lease_ttl < 2 * lease_interval:
        # One late renewal must not hand a game over.
        r.problems.append(
            f"BACKEND_GAME_LEASE_TTL: {lease_ttl:g}s is below twice "
            f"BACKEND_GAME_LEASE_RENEW_INTERVAL ({lease_interval:g}s)"
        )
    address = None
    given = r.raw("BACKEND_INSTANCE_ADDRESS")
    if given is not None:
        try:
            address = parse_instance_address(given)
        except ValueError as exc:
            r.problems.append(f"BACKEND_INSTANCE_ADDRESS: {exc}")
    return InstanceConfig(
        instance_id=r.parse("BACKEND_INSTANCE_ID", generated_instance_id(), parse_instance_id),
        address=address,
        heartbeat_interval=interval,
        ttl=ttl,
        lease_ttl=lease_ttl,
        lease_renew_interval=lease_interval,
    )


def _gateway(r: _Reader, embedded: bool) -> GatewayConfig:
    """The gateway's credential and the listeners' TLS; production needs one of them.

    The seeds trust the network between gateway and backend; a production
    deployment must not rely on that alone. Without a token or mutual TLS it
    refuses to start, unless the operator says BACKEND_GATEWAY_INSECURE=true
    (a network they vouch for), which every start then logs.
    """
    tokens = r.parse("BACKEND_GATEWAY_TOKEN", "", lambda t: parse_gateway_tokens(t) if t else ())
    insecure = r.boolean("BACKEND_GATEWAY_INSECURE", False)
    cert, key = r.text("BACKEND_TLS_CERT_FILE"), r.text("BACKEND_TLS_KEY_FILE")
    client_ca = r.text("BACKEND_TLS_CLIENT_CA_FILE")
    tls = None
    if (cert is None) != (key is None):
        r.problems.append("BACKEND_TLS_KEY_FILE: BACKEND_TLS_CERT_FILE and _KEY_FILE go together")
    elif cert is not None and key is not None:
        tls = TLSConfig(Path(cert), Path(key), Path(client_ca) if client_ca else None)
        r.check("BACKEND_TLS_CERT_FILE", tls, check_server_tls)
    if client_ca is not None and tls is None:
        r.problems.append(
            "BACKEND_TLS_CLIENT_CA_FILE: mutual TLS needs BACKEND_TLS_CERT_FILE and _KEY_FILE"
        )
    token_set = r.raw("BACKEND_GATEWAY_TOKEN") is not None  # a bad one is reported above
    if not embedded and not token_set and client_ca is None and not insecure:
        r.problems.append(
            "BACKEND_GATEWAY_TOKEN: required when BACKEND_EMBEDDED=false, so that only the "
            "gateway reaches the internal and user surfaces and the push stream (or mutual TLS "
            "with BACKEND_TLS_CLIENT_CA_FILE, or BACKEND_GATEWAY_INSECURE=true on a network "
            "you trust)"
        )
    return GatewayConfig(GatewayCredentials(tokens), insecure=insecure, tls=tls)


def check_server_tls(tls: TLSConfig) -> None:
    """Build the listeners' context once, here, so a wrong file stops the start."""
    import ssl

    try:
        server_context(tls, alpn=["h2"])
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"cannot load the TLS certificate, key or client CA ({exc})") from None


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` a line, `#` comments and blank lines skipped, values taken literally:
    what systemd's EnvironmentFile and `docker run --env-file` read from the same file, so
    a DSN's `&` or a password's quotes need no shell quoting."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot be read ({exc})"]) from None
    found: dict[str, str] = {}
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep or not _ENV_NAME.match(name):
            problems.append(f"{path} line {number}: not NAME=value")
            continue
        found[name] = value
    if problems:
        raise ConfigError(problems)
    return found


def _unknown_variables(environ: Mapping[str, str], known: set[str]) -> list[str]:
    """A `BACKEND_*` variable this build does not read is a typo until proven otherwise: an
    ignored `BACKEND_LOG_LEVEL` would leave an operator wondering why nothing changed."""
    problems = []
    for name in sorted(n for n in environ if n.startswith("BACKEND_") and n not in known):
        nearest = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f"; did you mean {nearest[0]}?" if nearest else ""
        problems.append(f"{name}: not a variable of this service{hint}")
    return problems


def _log_level(r: _Reader) -> LogLevel:
    value = r.choice("BACKEND_LOGGING_LEVEL", "info", ("debug", "info", "warn", "warning", "error"))
    return "warning" if value == "warn" else value  # type: ignore[return-value]
