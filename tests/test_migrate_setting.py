"""Django's migrate with an invalid SQLMIGRATIONS_APPLY_ON_MIGRATE: one line and exit 2
before any of Django's migrations run, as for any other bad setting."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import MigrationFiles, manage


@pytest.mark.parametrize("args", [(), ("--check",), ("--plan",)])
def test_an_invalid_apply_on_migrate_setting_stops_migrate_before_it_runs(
    migrations: MigrationFiles, tmp_path: Path, args: tuple[str, ...]
) -> None:
    migrations.table(1, "a")
    database = tmp_path / "db.sqlite3"

    result = manage(
        "migrate",
        *args,
        migrations_dir=migrations.path,
        env={
            "DB_PATH": str(database),
            "SQLMIGRATIONS_TEST_SETTINGS": json.dumps({"SQLMIGRATIONS_APPLY_ON_MIGRATE": "yes"}),
        },
    )

    assert result.code == 2, result.output
    assert "Traceback" not in result.output
    # (after the system checks' warnings, which migrate prints first)
    assert result.err.splitlines()[-1] + "\n" == (
        "CommandError: SQLMIGRATIONS_APPLY_ON_MIGRATE must be True, False or \"tests\", not 'yes'\n"
    )
    if database.exists():
        with sqlite3.connect(database) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        conn.close()
        assert "auth_user" not in tables and "a" not in tables


def test_migrate_fake_fakes_the_sql_migrations_it_applies_too(
    migrations: MigrationFiles, tmp_path: Path
) -> None:
    """SQLMIGRATIONS_APPLY_ON_MIGRATE = True: migrate --fake marks Django's migrations as
    applied without running them, and must not run the SQL files for real either."""
    migrations.table(1, "a")
    database = tmp_path / "db.sqlite3"

    result = manage(
        "migrate",
        "--fake",
        migrations_dir=migrations.path,
        env={
            "DB_PATH": str(database),
            "SQLMIGRATIONS_TEST_SETTINGS": json.dumps({"SQLMIGRATIONS_APPLY_ON_MIGRATE": True}),
        },
    )

    assert result.code == 0, result.output
    assert "SQL migration 001_create_a... FAKED" in result.out
    with sqlite3.connect(database) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        applied = conn.execute("SELECT version FROM schema_migrations").fetchall()
    conn.close()
    assert "a" not in tables
    assert applied == [(1,)]


@pytest.mark.parametrize(
    "value",
    [{"default": ["abc"]}, {"default": [1.5]}, {"default": ["²"]}, {"default": 3}, ["x"]],
)
def test_an_invalid_skip_versions_setting_is_one_line_and_exit_2(
    migrations: MigrationFiles, tmp_path: Path, value: object
) -> None:
    migrations.table(1, "a")
    database = tmp_path / "db.sqlite3"

    result = manage(
        "sqlmigrate_up",
        migrations_dir=migrations.path,
        env={
            "DB_PATH": str(database),
            "SQLMIGRATIONS_TEST_SETTINGS": json.dumps({"SQLMIGRATIONS_SKIP_VERSIONS": value}),
        },
    )

    assert result.code == 2, result.output
    assert "Traceback" not in result.output
    assert result.err.startswith("CommandError: SQLMIGRATIONS_SKIP_VERSIONS must be")
    assert not database.exists() or "a" not in {
        row[0] for row in sqlite3.connect(database).execute("SELECT name FROM sqlite_master")
    }
