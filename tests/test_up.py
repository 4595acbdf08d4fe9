"""sqlmigrate_up: apply pending migrations in order, one transaction each."""

from __future__ import annotations

import re

from tests.conftest import MigrationFiles, TargetDatabase, sqlite_code


def test_applies_pending_migrations_in_integer_order_and_records_them(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    # 10 sorts after 9 as a number, not before it as text would.
    migrations.table(9, "nine")
    migrations.table(10, "ten")
    migrations.table(2, "two", width=1)

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    lines = [line for line in result.out.splitlines() if "Applying" in line]
    assert [re.sub(r"\(\d+ ms\)", "(N ms)", line).strip() for line in lines] == [
        "Applying 2_create_two... OK (N ms)",
        "Applying 009_create_nine... OK (N ms)",
        "Applying 010_create_ten... OK (N ms)",
    ]
    assert "Applied 3 migrations to database 'target'." in result.out
    assert target.applied() == [2, 9, 10]


def test_order_is_numeric_across_digit_widths(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("9_log", "CREATE TABLE log (step bigint);\n", "DROP TABLE log;\n")
    migrations.pair(
        "0010_second", "INSERT INTO log VALUES (10);\n", "DELETE FROM log WHERE step = 10;\n"
    )
    migrations.pair(
        "20240101120000_third",
        "INSERT INTO log VALUES (20240101120000);\n",
        "DELETE FROM log WHERE step = 20240101120000;\n",
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.applied() == [9, 10, 20240101120000]
    assert target.query("SELECT step FROM log") == [(10,), (20240101120000,)]


def test_history_row_has_name_checksum_time_and_duration(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "widgets")

    assert target.run("sqlmigrate_up").code == 0

    [(version, name, checksum, applied_at, execution_ms)] = target.query(
        "SELECT version, name, checksum, applied_at, execution_ms FROM schema_migrations"
    )
    assert (version, name) == (1, "001_create_widgets")
    assert re.fullmatch(r"[0-9a-f]{64}", checksum)
    assert applied_at is not None
    assert execution_ms >= 0
    assert "widgets" in target.user_tables()


def test_second_run_applies_nothing(target: TargetDatabase, migrations: MigrationFiles) -> None:
    migrations.table(1, "widgets")
    assert target.run("sqlmigrate_up").code == 0

    result = target.run("sqlmigrate_up")

    assert result.code == 0
    assert "No migrations to apply." in result.out
    assert target.applied() == [1]


def test_only_new_files_are_applied_on_a_later_run(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "widgets")
    assert target.run("sqlmigrate_up").code == 0
    migrations.table(2, "gadgets")

    result = target.run("sqlmigrate_up")

    assert result.code == 0
    assert "Applying 002_create_gadgets" in result.out
    assert "001_create_widgets" not in result.out
    assert target.applied() == [1, 2]


def test_target_applies_only_up_to_that_version(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    for version, table in [(1, "a"), (2, "b"), (3, "c")]:
        migrations.table(version, table)

    result = target.run("sqlmigrate_up", "--target", "2")

    assert result.code == 0, result.output
    assert target.applied() == [1, 2]
    assert target.user_tables() == {"a", "b"}


def test_unknown_target_is_refused_and_changes_nothing(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")

    result = target.run("sqlmigrate_up", "--target", "7")

    assert result.code == 2
    assert "--target 7 is not a migration version (the files hold versions 1 to 1)" in result.err
    assert target.user_tables() == set()
    assert target.applied() == []


def test_failing_migration_keeps_earlier_ones_and_is_itself_fully_rolled_back(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "widgets")
    # The first two statements succeed; the third fails. Neither of the first two
    # may survive (on SQLite this fails if the driver commits implicitly).
    migrations.pair(
        "002_broken",
        "CREATE TABLE gadgets (id integer);\n"
        "INSERT INTO widgets (id) VALUES (1);\n"
        "\n"
        "-- a comment above the failing statement\n"
        "INSERT INTO no_such_table VALUES (1);\n",
        "DROP TABLE gadgets;\n",
    )
    migrations.table(3, "later")

    result = target.run("sqlmigrate_up")

    assert result.code == 1
    assert "Applying 001_create_widgets... OK" in result.out
    assert "Applying 002_broken... FAILED" in result.out
    first_line = result.err.splitlines()[0]
    assert first_line.startswith("002_broken.up.sql:5: ")
    assert "no_such_table" in first_line
    if target.vendor == "postgresql":
        assert "(SQLSTATE 42P01)" in first_line
    else:
        assert first_line.endswith(f"no_such_table{sqlite_code('SQLITE_ERROR')}")
    assert "Applied before the failure: 001_create_widgets." in result.err
    assert "002_broken, 003_create_later" in result.err
    assert "Traceback" not in result.output
    assert target.applied() == [1]
    assert target.user_tables() == {"widgets"}
    assert target.query("SELECT count(*) FROM widgets") == [(0,)]


def test_error_line_points_inside_a_multi_line_statement_on_postgresql(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_multi",
        "CREATE TABLE t (id integer);\nSELECT id,\n       missing_column\nFROM t;\n",
        "DROP TABLE t;\n",
    )

    result = postgres.run("sqlmigrate_up")

    assert result.code == 1
    assert result.err.startswith('001_multi.up.sql:3: column "missing_column" does not exist')


def test_syntax_error_in_a_later_file_stops_before_anything_runs_on_postgresql(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "widgets")
    migrations.pair("002_typo", "SELECT 1;\n\nCREAT TABLE oops (id int);\n", "SELECT 1;\n")

    result = postgres.run("sqlmigrate_up")

    assert result.code == 2
    assert result.err.startswith('002_typo.up.sql:3: syntax error at or near "CREAT"')
    assert postgres.user_tables() == set()
    assert postgres.applied() == []


def test_dry_run_prints_plan_and_sql_and_writes_nothing(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "widgets")
    migrations.table(2, "gadgets")

    result = target.run("sqlmigrate_up", "--dry-run")

    assert result.code == 0, result.output
    assert "  Apply 001_create_widgets\n  Apply 002_create_gadgets\n" in result.out
    assert (
        "-- 001_create_widgets.up.sql\nCREATE TABLE widgets (id integer PRIMARY KEY);" in result.out
    )
    # Not even the history table, and on SQLite not even the file.
    assert target.tables() == set()
    if target.path is not None:
        assert not target.path.exists()


def test_dry_run_after_partial_apply_lists_only_pending(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "widgets")
    assert target.run("sqlmigrate_up").code == 0
    migrations.table(2, "gadgets")

    result = target.run("sqlmigrate_up", "--dry-run")

    assert result.code == 0
    assert "Apply 002_create_gadgets" in result.out
    assert "Apply 001_create_widgets" not in result.out
    assert target.applied() == [1]


def test_percent_signs_in_sql_are_not_treated_as_parameters(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_percent",
        "CREATE TABLE t (v text);\nINSERT INTO t VALUES ('100%'), ('%s'), ('%(x)s');\n",
        "DROP TABLE t;\n",
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert sorted(target.query("SELECT v FROM t")) == [("%(x)s",), ("%s",), ("100%",)]


def test_changed_applied_file_stops_up_and_names_it(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "widgets")
    assert target.run("sqlmigrate_up").code == 0
    migrations.write("001_create_widgets.up.sql", "CREATE TABLE widgets (id bigint);\n")
    migrations.table(2, "gadgets")

    result = target.run("sqlmigrate_up")

    assert result.code == 2
    assert "001_create_widgets: applied, but its up file has changed since" in result.err
    assert target.applied() == [1]
    assert "gadgets" not in target.user_tables()


def test_vanished_applied_file_stops_up(target: TargetDatabase, migrations: MigrationFiles) -> None:
    migrations.table(1, "widgets")
    assert target.run("sqlmigrate_up").code == 0
    (migrations.path / "001_create_widgets.up.sql").unlink()
    (migrations.path / "001_create_widgets.down.sql").unlink()
    migrations.table(2, "gadgets")

    result = target.run("sqlmigrate_up")

    assert result.code == 2
    assert "001_create_widgets: applied, but its files are missing" in result.err
    assert target.applied() == [1]


def test_crlf_checkout_of_an_applied_file_is_not_drift(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("001_t", "CREATE TABLE t (id integer);\nSELECT 1;\n", "DROP TABLE t;\n")
    assert target.run("sqlmigrate_up").code == 0
    migrations.write("001_t.up.sql", b"CREATE TABLE t (id integer);\r\nSELECT 1;\r\n")

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert "No migrations to apply." in result.out


def test_verbosity_zero_prints_nothing_on_success(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "widgets")

    result = target.run("sqlmigrate_up", "-v", "0")

    assert result.code == 0
    assert result.out == ""
    assert target.applied() == [1]


def test_history_table_is_created_through_django_migrations(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "widgets")

    assert target.run("sqlmigrate_up").code == 0

    # Recorded, so a later `manage.py migrate` does not try to create it again.
    assert target.query("SELECT name FROM django_migrations WHERE app = 'sqlmigrations'") == [
        ("0001_initial",)
    ]
