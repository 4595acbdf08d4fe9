"""Out-of-order files after a branch merge, and --fake to adopt an existing database."""

from __future__ import annotations

from tests.conftest import MigrationFiles, TargetDatabase


def test_pending_file_below_the_newest_applied_is_refused(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.table(3, "c")
    assert target.run("sqlmigrate_up").code == 0
    migrations.table(2, "b")  # merged in from a branch
    migrations.table(4, "d")

    result = target.run("sqlmigrate_up")
    status = target.run("sqlmigrate_status")

    assert result.code == 2
    assert result.err.startswith(
        "pending migrations are numbered below the newest applied one (003_create_c): 002_create_b."
    )
    assert "--allow-out-of-order" in result.err
    assert target.applied() == [1, 3]
    assert " [ ] 002_create_b  pending, out of order (below the newest applied)" in status.out
    assert " [ ] 004_create_d  pending\n" in status.out


def test_allow_out_of_order_applies_and_records_normally(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.table(3, "c")
    assert target.run("sqlmigrate_up").code == 0
    migrations.table(2, "b")

    result = target.run("sqlmigrate_up", "--allow-out-of-order")

    assert result.code == 0, result.output
    assert target.applied() == [1, 2, 3]
    assert "b" in target.user_tables()
    assert target.run("sqlmigrate_status", "--check").code == 0


def test_fake_up_records_without_running_sql(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")
    migrations.table(3, "c")
    # A database made by other means already holds what 1 and 2 create.
    target.execute("CREATE TABLE a (id integer PRIMARY KEY)")
    target.execute("CREATE TABLE b (id integer PRIMARY KEY)")

    baseline = target.run("sqlmigrate_up", "--fake", "--target", "2")
    rest = target.run("sqlmigrate_up")

    assert baseline.code == 0, baseline.output
    assert "Applying 001_create_a... FAKED" in baseline.out
    assert "Recorded (faked) 2 migrations to database 'target'." in baseline.out
    assert rest.code == 0, rest.output
    assert "Applying 003_create_c... OK" in rest.out
    assert target.applied() == [1, 2, 3]


def test_fake_down_removes_the_record_and_keeps_the_schema(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0

    result = target.run("sqlmigrate_down", "--noinput", "--fake")

    assert result.code == 0, result.output
    assert "Unapplying 001_create_a... FAKED" in result.out
    assert target.applied() == []
    assert target.user_tables() == {"a"}
