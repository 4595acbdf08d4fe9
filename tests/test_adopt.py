"""sqlmigrate_adopt: a database migrated by another runner (its history table created and
filled as that runner does), adopted; then status shows it all applied with no problems
and sqlmigrate_up applies only the newer files."""

from __future__ import annotations

import json

import pytest
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

from tests import runner_tables
from tests.conftest import MigrationFiles, TargetDatabase

RENAMED = {
    "golang-migrate": "schema_migrations_golang_migrate",
    "dbmate": "schema_migrations_dbmate",
    "node": "schema_migrations_node",
}


def migrated(target: TargetDatabase, migrations: MigrationFiles, runner: str) -> None:
    """Three files; the runner applied the first two."""
    for version, table in ((1, "a"), (2, "b"), (3, "c")):
        migrations.table(version, table)
    target.execute("CREATE TABLE a (id integer PRIMARY KEY)")
    target.execute("CREATE TABLE b (id integer PRIMARY KEY)")
    runner_tables.create(target, runner)
    runner_tables.record(target, runner, [1, 2])


def assert_adopted_then_newer_applied(target: TargetDatabase) -> None:
    status = target.run("sqlmigrate_status", "--json")
    assert status.code == 0, status.output
    report = json.loads(status.out)
    assert report["pending"] == [3]
    assert report["problems"] == []
    assert [m["state"] for m in report["migrations"]] == ["applied", "applied", "pending"]

    up = target.run("sqlmigrate_up")
    assert up.code == 0, up.output
    assert "003_create_c" in up.out
    assert "001_create_a" not in up.out and "002_create_b" not in up.out
    assert target.applied() == [1, 2, 3]
    assert target.run("sqlmigrate_status", "--check").code == 0


@pytest.mark.parametrize("runner", ["golang-migrate", "dbmate", "node"])
def test_a_same_name_history_is_adopted_once(
    target: TargetDatabase, migrations: MigrationFiles, runner: str
) -> None:
    migrated(target, migrations, runner)
    before = target.query("SELECT * FROM schema_migrations")

    dry = target.run("sqlmigrate_adopt", "--dry-run")
    assert dry.code == 0, dry.output
    assert "Would record 001_create_a as applied" in dry.out
    assert target.query("SELECT * FROM schema_migrations") == before

    result = target.run("sqlmigrate_adopt")
    assert result.code == 0, result.output
    assert "Recorded 001_create_a as applied" in result.out
    assert "Recorded 002_create_b as applied" in result.out
    assert f"to {RENAMED[runner]} (kept, no longer used)" in result.out
    assert "did not apply are pending: sqlmigrate_up applies them." in result.out
    assert target.query(f"SELECT * FROM {RENAMED[runner]}") == before
    if runner == "node":  # applied_at is kept where the other table has it
        (applied_at,) = target.query("SELECT applied_at FROM schema_migrations WHERE version = 1")[
            0
        ]
        assert str(applied_at).startswith("2024-01-01")

    again = target.run("sqlmigrate_adopt")
    assert again.code == 0, again.output
    assert "Nothing to adopt: schema_migrations is already this app's history" in again.out
    assert RENAMED[runner] in again.out

    assert_adopted_then_newer_applied(target)


def test_flyway_history_is_adopted_from_its_own_table(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrated(target, migrations, "flyway")
    before = target.query("SELECT * FROM flyway_schema_history")

    result = target.run("sqlmigrate_adopt", "--from", "flyway")
    assert result.code == 0, result.output
    assert "Recorded 002_create_b as applied (applied 2024-01-02 10:00:00" in result.out
    assert target.query("SELECT * FROM flyway_schema_history") == before
    assert target.query("SELECT execution_ms FROM schema_migrations") == [(12,), (12,)]

    again = target.run("sqlmigrate_adopt", "--from", "flyway")
    assert again.code == 0, again.output
    assert "Nothing to adopt: every version Flyway applied is recorded already." in again.out

    assert_adopted_then_newer_applied(target)


def test_flyway_undone_and_failed_rows(target: TargetDatabase, migrations: MigrationFiles) -> None:
    migrated(target, migrations, "flyway")
    true = "true" if target.vendor == "postgresql" else "1"
    undo = (
        "INSERT INTO flyway_schema_history VALUES (3, '2', 'm', 'UNDO_SQL', 'U2__m.sql', 0, "
        f"'me', '2024-01-03 10:00:00', 5, {true})"
    )
    target.execute(undo)
    target.execute("DROP TABLE b")

    result = target.run("sqlmigrate_adopt", "--from", "flyway")
    assert result.code == 0, result.output
    assert target.applied() == [1]

    target.execute(
        "INSERT INTO flyway_schema_history VALUES (4, '3', 'm', 'SQL', 'V3__m.sql', 0, "
        "'me', '2024-01-04 10:00:00', 5, "
        + ("false" if target.vendor == "postgresql" else "0")
        + ")"
    )
    failed = target.run("sqlmigrate_adopt", "--from", "flyway")
    assert failed.code == 2, failed.output
    assert "Flyway recorded V3__m.sql (version 3) as failed" in failed.err
    assert target.applied() == [1]


def test_django_migrations_are_adopted_for_one_app(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    for version, table in ((1, "a"), (2, "b"), (3, "c")):
        migrations.table(version, table, width=4)
    recorder = MigrationRecorder(connections[target.alias])
    recorder.ensure_schema()
    recorder.record_applied("legacy", "0001_create_a")
    recorder.record_applied("legacy", "0002_create_b")
    recorder.record_applied("other", "0003_unrelated")
    connections[target.alias].close()
    target.execute("CREATE TABLE a (id integer PRIMARY KEY)")
    target.execute("CREATE TABLE b (id integer PRIMARY KEY)")

    result = target.run("sqlmigrate_adopt", "--from", "django", "--app", "legacy")
    assert result.code == 0, result.output
    assert "Recorded 0002_create_b as applied" in result.out
    assert target.applied() == [1, 2]
    up = target.run("sqlmigrate_up")
    assert up.code == 0, up.output
    assert target.applied() == [1, 2, 3]

    assert target.run("sqlmigrate_adopt", "--from", "django").code == 2  # --app is needed


def test_a_dirty_golang_migrate_history_is_refused(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    for version, table in ((1, "a"), (2, "b")):
        migrations.table(version, table)
    runner_tables.create(target, "golang-migrate")
    runner_tables.record(target, "golang-migrate", [1, 2], dirty=True)

    result = target.run("sqlmigrate_adopt")
    assert result.code == 2, result.output
    assert "cannot adopt; nothing was changed" in result.err
    assert "golang-migrate marks version 2 dirty" in result.err
    assert "schema_migrations_golang_migrate" not in target.tables()
    assert target.query("SELECT version, dirty FROM schema_migrations") in ([(2, True)], [(2, 1)])


@pytest.mark.parametrize("runner", ["golang-migrate", "dbmate"])
def test_versions_with_no_file_are_refused(
    target: TargetDatabase, migrations: MigrationFiles, runner: str
) -> None:
    migrations.table(1, "a")
    runner_tables.create(target, runner)
    runner_tables.record(target, runner, [1, 7])

    result = target.run("sqlmigrate_adopt")
    assert result.code == 2, result.output
    assert "names versions with no migration file here: 7" in result.err
    assert f"schema_migrations_{runner.replace('-', '_')}" not in target.tables()


def test_nothing_to_adopt_is_said_plainly(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    result = target.run("sqlmigrate_adopt")
    assert result.code == 2, result.output
    assert (
        "has no schema_migrations table to adopt" in result.err
        if target.vendor == "postgresql"
        else "does not exist yet, so it has no history to adopt" in result.err
    )
    assert target.run("sqlmigrate_up").code == 0
    again = target.run("sqlmigrate_adopt")
    assert again.code == 0
    assert "Nothing to adopt" in again.out


def test_one_version_spelled_twice_is_refused(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    runner_tables.create(target, "dbmate")
    target.execute("INSERT INTO schema_migrations (version) VALUES ('1'), ('0001')")

    result = target.run("sqlmigrate_adopt")
    assert result.code == 2, result.output
    assert "dbmate's history names version 1 twice" in result.err
    assert "schema_migrations_dbmate" not in target.tables()


def test_a_taken_name_for_the_old_table_is_refused_before_anything_changes(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrated(target, migrations, "golang-migrate")
    target.execute("CREATE TABLE schema_migrations_golang_migrate (x integer)")

    for args in (("--dry-run",), ()):
        result = target.run("sqlmigrate_adopt", *args)
        assert result.code == 2, result.output
        assert "schema_migrations_golang_migrate exists already" in result.err
    assert target.query("SELECT version FROM schema_migrations") == [(2,)]


def test_a_flyway_baseline_counts_every_file_up_to_it(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    for version, table in ((1, "a"), (2, "b"), (3, "c")):
        migrations.table(version, table)
    runner_tables.create(target, "flyway")
    true = "true" if target.vendor == "postgresql" else "1"
    target.execute(
        "INSERT INTO flyway_schema_history VALUES (1, '2', '<< Flyway Baseline >>', 'BASELINE', "
        f"'<< Flyway Baseline >>', NULL, 'me', '2024-01-01 10:00:00', 0, {true})"
    )

    result = target.run("sqlmigrate_adopt", "--from", "flyway")
    assert result.code == 0, result.output
    assert target.applied() == [1, 2]


@pytest.mark.parametrize(
    "version",
    [
        pytest.param("²", id="a-digit-int-refuses"),
        pytest.param("٣", id="a-digit-not-ascii"),
        pytest.param("long", id="more-digits-than-int-reads"),
        pytest.param("99999999999999999999", id="above-the-largest-version"),
    ],
)
def test_a_version_that_is_no_number_of_ours_is_a_problem_not_a_traceback(
    target: TargetDatabase, migrations: MigrationFiles, version: str
) -> None:
    migrations.table(1, "a")
    runner_tables.create(target, "dbmate")
    if version == "long":  # dbmate's PostgreSQL column is varchar(128); SQLite's holds more
        version = "1" * (5000 if target.vendor == "sqlite" else 128)
    target.execute(f"INSERT INTO schema_migrations (version) VALUES ('1'), ('{version}')")

    result = target.run("sqlmigrate_adopt")

    assert result.code == 2, result.output
    assert "cannot adopt; nothing was changed" in result.err
    assert "which is not a whole number from 1 to" in result.err
    assert "schema_migrations_dbmate" not in target.tables()
