"""sqlmigrate_up lints the files it is about to run: warnings, unless told to be strict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MigrationFiles, TargetDatabase


@pytest.fixture(autouse=True)
def lint_on_up(settings: Any) -> None:
    settings.SQLMIGRATIONS_LINT_ON_UP = "warn"  # the default; conftest turns it off
    settings.SQLMIGRATIONS_LINT_EXCLUDE = {}
    settings.SQLMIGRATIONS_STATEMENT_TIMEOUT = 60


@pytest.fixture
def pending_index(postgres: TargetDatabase, migrations: MigrationFiles) -> Path:
    migrations.pair("001_t", "CREATE TABLE t (id bigint PRIMARY KEY, a text);", "DROP TABLE t;")
    assert postgres.run("sqlmigrate_up").code == 0
    migrations.pair("002_index", "CREATE INDEX t_a_idx ON t (a);\n", "DROP INDEX t_a_idx;")
    return migrations.path / "002_index.up.sql"


WARNING = (
    "warning: {path}:1: require-concurrent-index-creation: During normal index creation, "
    "table updates are blocked, but reads are still allowed.\n"
    "  help: Use `concurrently` to avoid blocking writes.\n"
    "Lint (squawk): 1 finding in 1 of 1 file.\n"
)


def test_findings_are_warnings_and_the_run_goes_on(
    postgres: TargetDatabase, pending_index: Path
) -> None:
    result = postgres.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert result.out.startswith(WARNING.format(path=pending_index) + "  Applying 002_index...")
    assert postgres.applied() == [1, 2]


def test_dry_run_shows_them_too(postgres: TargetDatabase, pending_index: Path) -> None:
    result = postgres.run("sqlmigrate_up", "--dry-run")

    assert result.code == 0
    assert result.out.startswith(WARNING.format(path=pending_index) + "Planned operations")
    assert postgres.applied() == [1]


def test_only_the_files_about_to_run_are_linted(
    postgres: TargetDatabase, pending_index: Path, migrations: MigrationFiles
) -> None:
    migrations.pair("003_more", "CREATE INDEX t_id_a_idx ON t (id, a);\n", "SELECT 1;")

    result = postgres.run("sqlmigrate_up", "--target", "2")

    assert "003_more" not in result.out
    assert "Lint (squawk): 1 finding in 1 of 1 file." in result.out


def test_strict_refuses_to_run_with_findings(postgres: TargetDatabase, pending_index: Path) -> None:
    result = postgres.run("sqlmigrate_up", "--strict")

    assert result.code == 2
    assert result.out == WARNING.format(path=pending_index)
    assert result.err == (
        "--strict: squawk found 1 finding in the pending files; nothing was run (fix them, "
        "or suppress each with '-- sqlmigrate: allow RULE REASON')"
    )
    assert postgres.applied() == [1]


def test_the_setting_can_make_it_strict_or_turn_it_off(
    postgres: TargetDatabase, pending_index: Path, settings: Any
) -> None:
    settings.SQLMIGRATIONS_LINT_ON_UP = "strict"
    strict = postgres.run("sqlmigrate_up")
    settings.SQLMIGRATIONS_LINT_ON_UP = "off"
    off = postgres.run("sqlmigrate_up")

    assert (strict.code, postgres.applied()[:1]) == (2, [1])
    assert off.code == 0
    assert "warning" not in off.out
    assert postgres.applied() == [1, 2]


def test_a_bad_setting_exits_2(
    postgres: TargetDatabase, pending_index: Path, settings: Any
) -> None:
    settings.SQLMIGRATIONS_LINT_ON_UP = "loud"

    result = postgres.run("sqlmigrate_up")

    assert result.code == 2
    assert result.err == (
        'SQLMIGRATIONS_LINT_ON_UP must be "warn", "strict" or "off", not \'loud\''
    )
    assert postgres.applied() == [1]


def test_fake_runs_no_sql_so_nothing_is_linted(
    postgres: TargetDatabase, pending_index: Path
) -> None:
    result = postgres.run("sqlmigrate_up", "--fake")

    assert result.code == 0
    assert "warning" not in result.out


def test_without_squawk_up_runs_as_before_unless_strict(
    postgres: TargetDatabase, pending_index: Path, settings: Any, tmp_path: Path
) -> None:
    settings.SQLMIGRATIONS_SQUAWK = str(tmp_path / "no-squawk")
    strict = postgres.run("sqlmigrate_up", "--strict")
    quiet = postgres.run("sqlmigrate_up")

    assert strict.code == 2
    assert strict.err.startswith("squawk is not installed: install it with pip install")
    assert quiet.code == 0
    assert quiet.out.startswith("  Applying 002_index... OK")


def test_sqlite_files_are_not_linted(migrations: MigrationFiles, tmp_path: Path) -> None:
    from tests.conftest import manage

    migrations.pair("001_t", "CREATE TABLE t (id int PRIMARY KEY, c char(3));\n", "DROP TABLE t;")

    result = manage(
        "sqlmigrate_up",
        migrations_dir=migrations.path,
        env={
            "DB_PATH": str(tmp_path / "db.sqlite3"),
            "SQLMIGRATIONS_TEST_SETTINGS": '{"SQLMIGRATIONS_LINT_ON_UP": "strict"}',
        },
    )

    assert result.code == 0, result.output
    assert result.out.startswith("  Applying 001_t... OK")


def test_a_very_large_file_is_left_to_sqlmigrate_lint(
    postgres: TargetDatabase, pending_index: Path, migrations: MigrationFiles
) -> None:
    """Its memory and time in squawk would be the run's; the other files are linted."""
    migrations.pair("003_data", "-- " + "x" * 5_000_000 + "\nSELECT 1;\n", "SELECT 1;")

    result = postgres.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert result.out.startswith(
        "Lint skipped for 003_data.up.sql: larger than 5 million characters "
        "(run sqlmigrate_lint on it).\n" + WARNING.format(path=pending_index)
    )
    assert postgres.applied() == [1, 2, 3]
