"""The migration runner against a real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
import trio

from galaxy.store.migrate import Migration, MigrationError, _migrate, discover, migrate
from tests.support.postgres import PostgresForTests

# The exact set of tables in schema `backend`: adding a table without listing
# it here is a loud failure, on purpose.
EXPECTED_TABLES = {
    "schema_migrations",
    "admin_accounts",
    "mail_payloads",
    "mail_deliveries",
    "mail_recipients",
    "mail_attempts",
    "mail_dead_letters",
    "notifications",
    "notification_routes",
    "notification_dead_letters",
    "notification_malformed_intents",
    "accounts",
    "blocked_emails",
    "auth_challenges",
    "auth_wrong_codes",
    "turn_summaries",
    "turn_reports",
    "instances",
    "push_events",
    "game_leases",
    "device_sessions",
    "entitlement_records",
    "entitlement_snapshots",
    "sanction_records",
    "sanction_active",
    "limit_records",
    "limit_active",
    "games",
    "applications",
    "invites",
    "memberships",
    "race_names",
    "engine_versions",
    "runtime_records",
    "player_mappings",
    "runtime_operation_log",
    "runtime_health_snapshots",
    "user_country_counters",
    "diplomail_messages",
    "diplomail_recipients",
}


def tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'backend'"
        ).fetchall()
    return {row[0] for row in rows}


@pytest.fixture
def empty_dsn(postgres: PostgresForTests):
    with postgres.database(migrated=False) as dsn:
        yield dsn


async def test_a_fresh_database_gets_the_schema_and_exactly_the_expected_tables(
    empty_dsn: str,
) -> None:
    report = await migrate(empty_dsn)
    labels = tuple(m.label for m in discover())
    assert report.applied_now == labels
    assert report.applied == labels
    assert report.pending == ()
    assert tables(empty_dsn) == EXPECTED_TABLES


async def test_a_second_run_applies_nothing(empty_dsn: str) -> None:
    await migrate(empty_dsn)
    again = await migrate(empty_dsn)
    assert again.applied_now == ()
    assert again.pending == ()


async def test_dry_run_reports_pending_and_changes_nothing(empty_dsn: str) -> None:
    report = await migrate(empty_dsn, apply=False)
    assert report.applied == ()
    assert report.pending == tuple(m.label for m in discover())
    assert tables(empty_dsn) == {"schema_migrations"}


async def test_concurrent_runs_apply_each_migration_once(empty_dsn: str) -> None:
    reports = []

    async def run() -> None:
        reports.append(await migrate(empty_dsn))

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(run)
    applied = [label for report in reports for label in report.applied_now]
    assert sorted(applied) == sorted(m.label for m in discover())
    with psycopg.connect(empty_dsn) as conn:
        count = conn.execute("SELECT count(*) FROM backend.schema_migrations").fetchone()
    assert count == (len(discover()),)


async def test_an_edited_applied_migration_is_refused(empty_dsn: str) -> None:
    first = Migration(1, "one", "CREATE TABLE one (id int);")
    edited = Migration(1, "one", "CREATE TABLE one (id bigint);")
    await _migrate(empty_dsn, [first], True)
    with pytest.raises(MigrationError, match="forward-only"):
        await _migrate(empty_dsn, [edited], True)


async def test_a_database_ahead_of_the_build_is_refused(empty_dsn: str) -> None:
    one = Migration(1, "one", "CREATE TABLE one (id int);")
    two = Migration(2, "two", "CREATE TABLE two (id int);")
    await _migrate(empty_dsn, [one, two], True)
    with pytest.raises(MigrationError, match="does not know"):
        await _migrate(empty_dsn, [one], True)


async def test_a_failing_migration_leaves_no_trace(empty_dsn: str) -> None:
    good = Migration(1, "good", "CREATE TABLE good (id int);")
    bad = Migration(2, "bad", "CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        await _migrate(empty_dsn, [good, bad], True)
    report = await _migrate(empty_dsn, [good, bad], False)
    assert report.applied == ("0001_good",)
    assert report.pending == ("0002_bad",)
    assert "half" not in tables(empty_dsn)


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [m.version for m in discover()]
    assert versions == list(range(1, len(versions) + 1))


async def test_an_existing_registrys_newest_enabled_version_becomes_its_default(
    empty_dsn: str,
) -> None:
    """0013 keeps what new games got before it (the newest enabled version), in semantic
    order, not text order: 0.10.0 is newer than 0.9.0."""
    before = [m for m in discover() if m.version < 13]
    await _migrate(empty_dsn, before, True)
    with psycopg.connect(empty_dsn) as conn:
        conn.execute(
            "INSERT INTO backend.engine_versions (version, image_ref, enabled) VALUES"
            " ('0.9.0', 'e:0.9.0', true), ('0.10.0', 'e:0.10.0', true),"
            " ('0.11.0', 'e:0.11.0', false)"
        )
    await migrate(empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        rows = conn.execute(
            "SELECT version FROM backend.engine_versions WHERE is_default"
        ).fetchall()
    assert rows == [("0.10.0",)]


async def test_admins_from_before_roles_become_operators_and_new_ones_viewers(
    empty_dsn: str,
) -> None:
    before = [m for m in discover() if m.version < 19]
    await _migrate(empty_dsn, before, True)
    insert = "INSERT INTO backend.admin_accounts (username, password_hash) VALUES (%s, 'x')"
    with psycopg.connect(empty_dsn) as conn:
        conn.execute(insert, ("old",))
    await migrate(empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        conn.execute(insert, ("new",))
        roles = conn.execute(
            "SELECT username, role FROM backend.admin_accounts ORDER BY username"
        ).fetchall()
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE backend.admin_accounts SET role = 'root' WHERE username = 'new'")
    assert roles == [("new", "viewer"), ("old", "operator")]
