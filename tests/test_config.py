"""Configuration: every variable, its default, and all problems reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from galaxy.config import (
    REQUIRED_VARIABLES,
    Address,
    ConfigError,
    load_config,
    load_database_config,
    parse_address,
)
from galaxy.domain.durations import format_duration, parse_duration
from tests.support.geo import country_database

PRODUCTION = {
    "BACKEND_EMBEDDED": "false",
    "BACKEND_POSTGRES_DSN": "postgres://galaxy@db/galaxy?search_path=backend",
    "BACKEND_SMTP_HOST": "smtp.example.org",
    "BACKEND_SMTP_FROM": "galaxy@example.org",
    "BACKEND_DOCKER_NETWORK": "galaxy",
    "BACKEND_GAME_STATE_ROOT": "/var/lib/galaxy",
    "BACKEND_GATEWAY_TOKEN": "gateway-token-of-thirty-two-chars",
}


@pytest.fixture
def geoip(tmp_path: Path) -> str:
    return str(country_database(tmp_path / "country.mmdb"))


def test_seed_defaults(geoip: str) -> None:
    config = load_config({**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip})
    assert config.http.listen == Address("", 8080)
    assert (config.http.read_timeout, config.http.write_timeout) == (30, 30)
    assert config.http.shutdown_timeout == 15
    assert config.shutdown_timeout == 30
    assert config.grpc.listen == Address("", 8081) and config.grpc.shutdown_timeout == 10
    assert config.logging_level == "info"
    assert (config.postgres.max_conns, config.postgres.min_conns) == (25, 2)
    assert config.postgres.operation_timeout == 5
    assert (config.smtp.port, config.smtp.tls_mode) == (587, "starttls")
    assert (config.mail.worker_interval, config.mail.max_attempts) == (2, 8)
    assert config.docker.host == "unix:///var/run/docker.sock"
    assert config.telemetry.traces_exporter == "otlp"
    assert config.telemetry.metrics_exporter == "otlp"
    assert config.telemetry.protocol == "grpc"
    assert config.telemetry.prometheus_listen == Address("", 9100)
    assert config.telemetry.service_name == "galaxy-backend"
    assert config.freshness_window == 300
    assert config.auth.challenge_ttl == 600
    assert config.auth.challenge_max_attempts == 5
    assert config.auth.throttle_window == 60 and config.auth.throttle_max == 3
    assert config.auth.username_max_retries == 10
    assert config.lobby.sweeper_interval == 60
    assert config.lobby.pending_registration_ttl == 720 * 3600
    assert config.lobby.invite_default_ttl == 168 * 3600
    assert (config.engine.call_timeout, config.engine.probe_timeout) == (60, 5)
    runtime = config.runtime
    assert (runtime.worker_pool_size, runtime.job_queue_size) == (4, 64)
    assert runtime.reconcile_interval == 60 and runtime.image_pull_policy == "if_missing"
    assert runtime.container_log_driver == "json-file" and runtime.container_log_opts == {}
    assert runtime.container_cpu_quota == 2.0
    assert runtime.container_memory_bytes == 512 * 1024 * 1024
    assert runtime.container_pids_limit == 256
    assert runtime.container_state_mount == "/var/lib/galaxy-game"
    assert runtime.stop_grace_period == 10 and runtime.stack_label is None
    assert config.notification.admin_email is None
    assert config.notification.worker_interval == 5 and config.notification.max_attempts == 8
    dip = config.diplomail
    assert (dip.max_body_bytes, dip.max_subject_bytes) == (4096, 256)
    assert dip.translator_url is None and dip.translator_timeout == 10
    assert dip.translator_max_attempts == 5 and dip.worker_interval == 2
    assert config.http.max_body_bytes == 1024 * 1024
    assert config.fallbacks == ()


def test_every_variable_is_read() -> None:
    config = load_config(
        {
            **PRODUCTION,
            "BACKEND_EMBEDDED": "true",
            "BACKEND_HTTP_LISTEN_ADDR": "127.0.0.1:9000",
            "BACKEND_HTTP_READ_TIMEOUT": "1m30s",
            "BACKEND_RUNTIME_CONTAINER_LOG_OPTS": "max-size=10m, max-file=3",
            "BACKEND_RUNTIME_CONTAINER_MEMORY": "1g",
            "BACKEND_RUNTIME_CONTAINER_CPU_QUOTA": "0.5",
            "BACKEND_STACK_LABEL": "dev-1",
            "BACKEND_SMTP_USERNAME": "mailer",
            "BACKEND_SMTP_PASSWORD": "secret",
            "BACKEND_SMTP_TLS_MODE": "TLS",
            "BACKEND_LOGGING_LEVEL": "warn",
            "BACKEND_DIPLOMAIL_TRANSLATOR_URL": "http://libretranslate:5000",
            "BACKEND_OTEL_METRICS_EXPORTER": "prometheus",
            "BACKEND_OTEL_PROTOCOL": "http/protobuf",
            "BACKEND_NOTIFICATION_ADMIN_EMAIL": "ops@example.org",
        }
    )
    assert config.http.listen == Address("127.0.0.1", 9000)
    assert config.http.read_timeout == 90
    assert config.runtime.container_log_opts == {"max-size": "10m", "max-file": "3"}
    assert config.runtime.container_memory_bytes == 1024**3
    assert config.runtime.container_cpu_quota == 0.5
    assert config.runtime.stack_label == "dev-1"
    assert config.smtp.tls_mode == "tls" and config.smtp.username == "mailer"
    assert "secret" not in repr(config)
    assert config.logging_level == "warning"
    assert config.diplomail.translator_url == "http://libretranslate:5000"
    assert config.telemetry.metrics_exporter == "prometheus"
    assert config.telemetry.protocol == "http/protobuf"
    assert config.notification.admin_email == "ops@example.org"


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(
            {
                "BACKEND_EMBEDDED": "false",
                "BACKEND_HTTP_READ_TIMEOUT": "soon",
                "BACKEND_POSTGRES_MAX_CONNS": "many",
                "BACKEND_SMTP_TLS_MODE": "ssl",
                "BACKEND_HTTP_LISTEN_ADDR": "8080",
                "BACKEND_ADMIN_BOOTSTRAP_USER": "admin",
                "BACKEND_RUNTIME_IMAGE_PULL_POLICY": "sometimes",
            }
        )
    problems = info.value.problems
    named = {problem.split(":", 1)[0] for problem in problems}
    assert named >= {
        *REQUIRED_VARIABLES,
        "BACKEND_HTTP_READ_TIMEOUT",
        "BACKEND_POSTGRES_MAX_CONNS",
        "BACKEND_SMTP_TLS_MODE",
        "BACKEND_HTTP_LISTEN_ADDR",
        "BACKEND_ADMIN_BOOTSTRAP_PASSWORD",
        "BACKEND_RUNTIME_IMAGE_PULL_POLICY",
    }
    assert all(problem.startswith("BACKEND_") for problem in problems)


def test_a_dsn_without_search_path_is_rejected(geoip: str) -> None:
    environ = {**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip}
    environ["BACKEND_POSTGRES_DSN"] = "postgres://galaxy@db/galaxy"
    with pytest.raises(ConfigError, match="BACKEND_POSTGRES_DSN: must include search_path"):
        load_config(environ)


@pytest.mark.parametrize(
    "written",
    [
        # the runbook's and the seeds' form
        "postgres://galaxy:s3cret@127.0.0.1:5432/galaxy?search_path=backend",
        # with other libpq parameters beside it
        "postgresql://galaxy:s3cret@127.0.0.1:5432/galaxy?sslmode=prefer&search_path=backend",
        # libpq's own spelling
        "postgres://galaxy:s3cret@127.0.0.1:5432/galaxy?options=-csearch_path%3Dbackend",
        # key=value, as psql and libpq document it
        "host=127.0.0.1 port=5432 user=galaxy password=s3cret dbname=galaxy search_path=backend",
        "host=127.0.0.1 port=5432 user=galaxy password=s3cret dbname=galaxy "
        "options='-c search_path=backend'",
    ],
)
def test_the_dsn_is_normalised_once_whichever_form_the_operator_writes(
    geoip: str, written: str
) -> None:
    environ = {**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip, "BACKEND_POSTGRES_DSN": written}
    dsn = load_config(environ).postgres.dsn
    assert dsn is not None
    params = conninfo_to_dict(dsn)  # libpq accepts it: no unknown parameter is left
    assert "search_path" not in params
    assert str(params["options"]).replace(" ", "") == "-csearch_path=backend"
    assert (params["host"], params["port"], params["user"]) == ("127.0.0.1", "5432", "galaxy")
    assert params["dbname"] == "galaxy" and params["password"] == "s3cret"
    if "sslmode" in written:
        assert params["sslmode"] == "prefer"
    assert "s3cret" not in repr(load_config(environ))
    assert load_database_config(environ).dsn == dsn  # `galaxy migrate` reads the same


def test_migrate_validates_only_the_database(tmp_path: Path) -> None:
    environ = {
        "BACKEND_EMBEDDED": "false",
        "BACKEND_POSTGRES_DSN": "postgres://galaxy@db/galaxy?search_path=backend",
        "BACKEND_SMTP_PORT": "99999",  # wrong, but a migration sends no mail
    }
    database = load_database_config(environ)
    assert database.dsn is not None and not database.embedded
    with pytest.raises(ConfigError, match="BACKEND_POSTGRES_DSN: required"):
        load_database_config({"BACKEND_EMBEDDED": "false"})
    with pytest.raises(ConfigError, match="BACKEND_POSTGRES_DSN: must include search_path"):
        load_database_config({**environ, "BACKEND_POSTGRES_DSN": "postgres://galaxy@db/galaxy"})
    embedded = load_database_config({"BACKEND_DATA_DIR": str(tmp_path)})
    assert embedded.dsn is None and embedded.data_dir == tmp_path
    assert [f.variable for f in embedded.fallbacks] == ["BACKEND_POSTGRES_DSN"]


def test_values_that_would_fail_later_are_refused_at_start(tmp_path: Path) -> None:
    not_mmdb = tmp_path / "country.mmdb"
    not_mmdb.write_bytes(b"this is not a MaxMind database")
    with pytest.raises(ConfigError) as info:
        load_config(
            {
                **PRODUCTION,
                "BACKEND_SMTP_PORT": "99999",
                "BACKEND_SMTP_FROM": "not-an-address",
                "BACKEND_GAME_STATE_ROOT": "var/lib/galaxy",
                "BACKEND_DOCKER_HOST": "docker.internal:2375",
                "BACKEND_NOTIFICATION_ADMIN_EMAIL": "operators",
                "BACKEND_GEOIP_DB_PATH": str(not_mmdb),
            }
        )
    problems = dict(problem.split(": ", 1) for problem in info.value.problems)
    assert set(problems) == {
        "BACKEND_SMTP_PORT",
        "BACKEND_SMTP_FROM",
        "BACKEND_GAME_STATE_ROOT",
        "BACKEND_DOCKER_HOST",
        "BACKEND_NOTIFICATION_ADMIN_EMAIL",
        "BACKEND_GEOIP_DB_PATH",
    }
    assert "above the maximum 65535" in problems["BACKEND_SMTP_PORT"]
    assert "not an e-mail address" in problems["BACKEND_SMTP_FROM"]
    assert "not an absolute path" in problems["BACKEND_GAME_STATE_ROOT"]
    assert "not a readable MaxMind database" in problems["BACKEND_GEOIP_DB_PATH"]


@pytest.mark.parametrize(
    "host",
    ["unix:///var/run/docker.sock", "tcp://10.0.0.5:2376", "https://docker.internal:2376"],
)
def test_docker_addresses_in_their_usual_forms(geoip: str, host: str) -> None:
    environ = {**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip, "BACKEND_DOCKER_HOST": host}
    assert load_config(environ).docker.host == host


@pytest.mark.parametrize(
    "host", ["/var/run/docker.sock", "unix://var/run/docker.sock", "tcp://docker", "ftp://x:1"]
)
def test_malformed_docker_addresses(geoip: str, host: str) -> None:
    environ = {**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip, "BACKEND_DOCKER_HOST": host}
    with pytest.raises(ConfigError, match="BACKEND_DOCKER_HOST"):
        load_config(environ)


def test_unknown_variables_are_reported_with_the_nearest_known_name(geoip: str) -> None:
    environ = {**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip}
    environ |= {"BACKEND_LOG_LEVEL": "debug", "BACKEND_SMTP_PASS": "x", "BACKEND_ZZZ": "1"}
    with pytest.raises(ConfigError) as info:
        load_config(environ)
    assert info.value.problems == [
        "BACKEND_LOG_LEVEL: not a variable of this service; did you mean BACKEND_LOGGING_LEVEL?",
        "BACKEND_SMTP_PASS: not a variable of this service; did you mean BACKEND_SMTP_PASSWORD?",
        "BACKEND_ZZZ: not a variable of this service",
    ]
    # Other programs' variables are none of its business.
    assert load_config({**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip, "DOCKER_HOST": "x"})


def test_min_conns_above_max_conns_is_rejected(geoip: str) -> None:
    environ = {**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip}
    environ |= {"BACKEND_POSTGRES_MIN_CONNS": "30", "BACKEND_POSTGRES_MAX_CONNS": "10"}
    with pytest.raises(ConfigError, match="BACKEND_POSTGRES_MIN_CONNS"):
        load_config(environ)


def test_embedded_mode_replaces_each_missing_requirement(tmp_path: Path) -> None:
    config = load_config({"BACKEND_DATA_DIR": str(tmp_path)})
    replaced = {fallback.variable for fallback in config.fallbacks}
    assert set(REQUIRED_VARIABLES) <= replaced
    assert "BACKEND_ADMIN_BOOTSTRAP_USER" in replaced
    assert config.embedded and config.data_dir == tmp_path
    assert config.postgres.dsn is None and config.smtp.host is None and config.geo.db_path is None
    assert config.runtime.game_state_root == tmp_path / "games"
    assert config.telemetry.traces_exporter == "none"
    assert config.telemetry.metrics_exporter == "none"


def test_embedded_is_the_default_and_data_dir_defaults_to_dot_galaxy() -> None:
    config = load_config({})
    assert config.embedded
    assert config.data_dir == (Path.cwd() / ".galaxy")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2s", 2),
        ("5m", 300),
        ("720h", 2_592_000),
        ("1h30m", 5400),
        ("250ms", 0.25),
        ("1.5s", 1.5),
        ("0", 0),
        ("100us", 0.0001),
        ("3µs", 0.000003),
        ("10ns", 1e-8),
    ],
)
def test_durations_in_the_seed_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "5 m", "-1s", "1d", "s", "1h-5m", "one second"])
def test_malformed_durations(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is covered above
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for text in ("2s", "5m", "720h", "1h30m", "250ms"):
        assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (":8080", Address("", 8080)),
        ("127.0.0.1:0", Address("127.0.0.1", 0)),
        ("[::1]:8081", Address("::1", 8081)),
        ("localhost:9100", Address("localhost", 9100)),
    ],
)
def test_listen_addresses(text: str, address: Address) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize("text", ["8080", "host:", "host:99999", "host:http"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(ValueError, match=r"HOST:PORT|port"):
        parse_address(text)


def test_production_needs_a_gateway_credential_or_says_it_does_without(geoip: str) -> None:
    environ = {**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip}
    del environ["BACKEND_GATEWAY_TOKEN"]
    with pytest.raises(ConfigError, match="BACKEND_GATEWAY_TOKEN: required when"):
        load_config(environ)
    insecure = load_config({**environ, "BACKEND_GATEWAY_INSECURE": "true"})
    assert insecure.gateway.insecure and not insecure.gateway.credentials.required
    rotation = load_config({**environ, "BACKEND_GATEWAY_TOKEN": f"{'a' * 24}, {'b' * 32}"})
    assert rotation.gateway.credentials.tokens == ("a" * 24, "b" * 32)
    assert "a" * 24 not in repr(rotation)
    with pytest.raises(ConfigError, match="BACKEND_GATEWAY_TOKEN: each token must be"):
        load_config({**environ, "BACKEND_GATEWAY_TOKEN": "short"})


def test_mutual_tls_stands_in_for_the_token(geoip: str, tmp_path: Path) -> None:
    import trustme

    ca = trustme.CA()
    server = ca.issue_cert("backend.internal")
    cert, key, client_ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    server.cert_chain_pems[0].write_to_path(str(cert))
    server.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(client_ca))
    environ = {**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip}
    del environ["BACKEND_GATEWAY_TOKEN"]
    tls = {"BACKEND_TLS_CERT_FILE": str(cert), "BACKEND_TLS_KEY_FILE": str(key)}
    mutual = load_config({**environ, **tls, "BACKEND_TLS_CLIENT_CA_FILE": str(client_ca)})
    assert mutual.gateway.mutual_tls and mutual.gateway.tls is not None
    with pytest.raises(ConfigError) as info:
        load_config(
            {
                **environ,
                "BACKEND_TLS_CERT_FILE": str(key),  # a key is no certificate
                "BACKEND_TLS_KEY_FILE": str(key),
                "BACKEND_TLS_CLIENT_CA_FILE": str(client_ca),
            }
        )
    assert any(p.startswith("BACKEND_TLS_CERT_FILE: cannot load") for p in info.value.problems)
    with pytest.raises(ConfigError, match="BACKEND_TLS_KEY_FILE: BACKEND_TLS_CERT_FILE and"):
        load_config({**environ, "BACKEND_TLS_CERT_FILE": str(cert)})


def test_an_embedded_instance_listens_on_loopback_only(tmp_path: Path, geoip: str) -> None:
    embedded = load_config({"BACKEND_DATA_DIR": str(tmp_path)})
    assert embedded.http.listen == Address("127.0.0.1", 8080)
    assert embedded.grpc.listen == Address("127.0.0.1", 8081)
    assert embedded.telemetry.prometheus_listen == Address("127.0.0.1", 9100)
    production = load_config({**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip})
    assert production.http.listen == Address("", 8080)  # what the operator's network allows


def test_a_dsn_shows_where_it_points_and_nothing_secret(geoip: str) -> None:
    from galaxy.domain.dsn import redact

    dsn = load_config(
        {
            **PRODUCTION,
            "BACKEND_GEOIP_DB_PATH": geoip,
            "BACKEND_POSTGRES_DSN": "postgres://u:pw@db:5433/galaxy?search_path=backend"
            "&sslmode=require&sslpassword=topsecret",
        }
    ).postgres.dsn
    assert dsn is not None
    shown = redact(dsn)
    assert "topsecret" not in shown and "pw" not in shown.replace("password=***", "")
    assert conninfo_to_dict(shown) == {
        "host": "db",
        "port": "5433",
        "dbname": "galaxy",
        "user": "u",
        "sslmode": "require",
        "password": "***",
    }
    with pytest.raises(ConfigError) as info:  # libpq's reason would quote the password
        load_config(
            {
                **PRODUCTION,
                "BACKEND_GEOIP_DB_PATH": geoip,
                "BACKEND_POSTGRES_DSN": "host=h password=my secret search_path=backend",
            }
        )
    assert "secret" not in str(info.value)
    with pytest.raises(ConfigError, match="disagree"):  # options would win, silently
        load_config(
            {
                **PRODUCTION,
                "BACKEND_GEOIP_DB_PATH": geoip,
                "BACKEND_POSTGRES_DSN": "postgres://u@db/galaxy?search_path=backend"
                "&options=-csearch_path%3Dpublic",
            }
        )


def test_the_runbooks_placeholder_token_is_refused(geoip: str) -> None:
    environ = {**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip}
    environ["BACKEND_GATEWAY_TOKEN"] = "change-me-to-32-random-characters"
    with pytest.raises(ConfigError, match="BACKEND_GATEWAY_TOKEN: is the documentation's"):
        load_config(environ)


def test_an_env_file_is_read_literally(tmp_path: Path) -> None:
    from galaxy.config import read_env_file

    env = tmp_path / "galaxy.env"
    env.write_text(
        "# galaxy.env\n"
        "\n"
        "BACKEND_POSTGRES_DSN=postgres://u:p@db/galaxy?search_path=backend&sslmode=prefer\n"
        "BACKEND_SMTP_PASSWORD='quoted' stays quoted\n"
        "  BACKEND_EMBEDDED=false  \n"
    )
    assert read_env_file(env) == {
        "BACKEND_POSTGRES_DSN": "postgres://u:p@db/galaxy?search_path=backend&sslmode=prefer",
        "BACKEND_SMTP_PASSWORD": "'quoted' stays quoted",
        "BACKEND_EMBEDDED": "false",
    }
    env.write_text("BACKEND_EMBEDDED=false\nexport BACKEND_X\n2BAD=1\n")
    with pytest.raises(ConfigError) as info:
        read_env_file(env)
    assert [p.split(": ", 1)[1] for p in info.value.problems] == ["not NAME=value"] * 2
    with pytest.raises(ConfigError, match="cannot be read"):
        read_env_file(tmp_path / "missing.env")


def test_the_swarm_drivers_settings(geoip: str) -> None:
    environ = {
        **PRODUCTION,
        "BACKEND_GEOIP_DB_PATH": geoip,
        "BACKEND_RUNTIME_DRIVER": "swarm",
        "BACKEND_SWARM_CONSTRAINTS": "node.labels.engines==1, node.role==worker",
        "BACKEND_SWARM_VOLUME_OPTS": "type=nfs;o=addr=10.0.0.5,rw,nfsvers=4;device=:/galaxy",
    }
    config = load_config(environ)
    assert config.runtime.driver == "swarm"
    assert config.swarm.constraints == ("node.labels.engines==1", "node.role==worker")
    assert config.swarm.volume_driver == "local"
    assert config.swarm.volume_opts == {
        "type": "nfs",
        "o": "addr=10.0.0.5,rw,nfsvers=4",  # a mount's options keep their commas
        "device": ":/galaxy",
    }
    defaults = load_config({**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip}).swarm
    assert (defaults.constraints, defaults.volume_driver, defaults.volume_opts) == ((), "local", {})
    with pytest.raises(ConfigError, match="BACKEND_SWARM_VOLUME_OPTS: 'rw' is not key=value"):
        load_config({**environ, "BACKEND_SWARM_VOLUME_OPTS": "type=nfs;rw"})


def test_game_lease_timings_default_and_one_late_renewal_must_not_hand_a_game_over(
    geoip: str,
) -> None:
    base = {**PRODUCTION, "BACKEND_GEOIP_DB_PATH": geoip}
    config = load_config(base)
    assert (config.instance.lease_ttl, config.instance.lease_renew_interval) == (15.0, 5.0)
    tuned = load_config(
        {**base, "BACKEND_GAME_LEASE_TTL": "2s", "BACKEND_GAME_LEASE_RENEW_INTERVAL": "500ms"}
    )
    assert (tuned.instance.lease_ttl, tuned.instance.lease_renew_interval) == (2.0, 0.5)
    for ttl, interval, named in (
        ("4s", "3s", "BACKEND_GAME_LEASE_TTL"),
        ("4s", "0s", "BACKEND_GAME_LEASE_RENEW_INTERVAL"),
    ):
        with pytest.raises(ConfigError) as info:
            load_config(
                {
                    **base,
                    "BACKEND_GAME_LEASE_TTL": ttl,
                    "BACKEND_GAME_LEASE_RENEW_INTERVAL": interval,
                }
            )
        assert [p.split(":", 1)[0] for p in info.value.problems] == [named]
