"""DSN rules on their own: every form selects schema `backend`, and nothing secret is shown."""

from __future__ import annotations

import pytest
from psycopg.conninfo import conninfo_to_dict

from galaxy.domain.dsn import connection_failure, normalize_dsn, redact, server_of


@pytest.mark.parametrize(
    "dsn",
    [
        "postgres://galaxy:pw@db:5433/galaxy?search_path=backend&sslmode=disable",
        "host=db port=5433 dbname=galaxy user=galaxy password=pw search_path=backend",
        "host=db port=5433 dbname=galaxy user=galaxy password=pw options='-c search_path=backend'",
    ],
)
def test_every_form_becomes_libpq_options_selecting_backend(dsn: str) -> None:
    params = conninfo_to_dict(normalize_dsn(dsn))
    assert "search_path" not in params
    assert "search_path=backend" in str(params["options"])
    assert (params["host"], params["port"], params["dbname"]) == ("db", "5433", "galaxy")
    assert conninfo_to_dict(normalize_dsn(normalize_dsn(dsn))) == params


def test_a_uri_may_select_backend_through_options() -> None:
    dsn = "postgresql://galaxy:pw@db:5433/galaxy?options=-c%20search_path%3Dbackend"
    assert "search_path=backend" in str(conninfo_to_dict(normalize_dsn(dsn))["options"])


def test_a_uris_other_options_reach_libpq_with_their_spaces() -> None:
    dsn = "postgresql://db/galaxy?search_path=backend&options=-c%20statement_timeout%3D5000"
    options = str(conninfo_to_dict(normalize_dsn(dsn))["options"])
    assert options.split() == ["-c", "statement_timeout=5000", "-c", "search_path=backend"]


def test_a_plus_in_a_uri_is_a_plus_as_libpq_reads_it() -> None:
    dsn = "postgresql://db/galaxy?application_name=galaxy+blue&search_path=backend"
    assert conninfo_to_dict(normalize_dsn(dsn))["application_name"] == "galaxy+blue"


@pytest.mark.parametrize(
    ("dsn", "reason"),
    [
        ("postgres://db/galaxy", "must include search_path=backend"),
        ("postgres://db/galaxy?search_path=public", "must start with 'backend'"),
        ("postgres://db/galaxy?search_path=public,backend", "must start with 'backend'"),
        (
            "host=db dbname=galaxy search_path=backend options='-c search_path=public'",
            "disagree",
        ),
        ("host=db password='unclosed", "not a valid PostgreSQL DSN"),
    ],
)
def test_a_dsn_that_does_not_select_backend_is_refused(dsn: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_dsn(dsn)


def test_a_refusal_never_quotes_the_password() -> None:
    with pytest.raises(ValueError, match="not a valid PostgreSQL DSN") as refused:
        normalize_dsn("host=db password='s3cret")
    assert "s3cret" not in str(refused.value)


def test_what_is_shown_says_where_and_hides_the_secrets() -> None:
    dsn = normalize_dsn(
        "postgres://galaxy:s3cret@db:5433/galaxy?search_path=backend&sslpassword=k3y"
    )
    shown = redact(dsn)
    assert "s3cret" not in shown
    assert "k3y" not in shown
    assert "search_path" not in shown  # options are not shown either
    assert conninfo_to_dict(shown) == {
        "host": "db",
        "port": "5433",
        "dbname": "galaxy",
        "user": "galaxy",
        "password": "***",
    }
    assert server_of(dsn) == "db:5433"
    assert server_of("host=/run/postgresql") == "/run/postgresql (socket, port 5432)"


def test_a_connection_failure_is_libpqs_reason_on_one_line() -> None:
    error = Exception(
        'connection to server at "db" (10.0.0.2), port 5433 failed: FATAL:  password '
        'authentication failed for user "galaxy"\nHINT: check it'
    )
    assert connection_failure("host=db port=5433", error) == (
        'PostgreSQL at db:5433: password authentication failed for user "galaxy"'
    )
