"""Django's own entry points and conventions: --version, options, check, runserver, admin."""

from __future__ import annotations

from pathlib import Path

import pytest

import sqlmigrations
from tests.conftest import REPO, MigrationFiles, TargetDatabase, run_python


def test_version_option_prints_the_apps_version(migrations: MigrationFiles) -> None:
    result = run_python(
        "manage.py", "sqlmigrate_status", "--version", migrations_dir=migrations.path
    )

    assert result.code == 0, result.output
    assert result.out.strip() == sqlmigrations.__version__
    assert sqlmigrations.__version__[0].isdigit()


def test_the_version_is_written_once_and_the_changelog_names_it() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert 'attr = "sqlmigrations.__version__"' in pyproject
    assert f"## {sqlmigrations.__version__}" in (REPO / "CHANGELOG.md").read_text()


def test_down_accepts_backup_as_its_own_option(
    target: TargetDatabase, migrations: MigrationFiles, backups_in_tmp: Path
) -> None:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0

    result = target.run("sqlmigrate_down", "--noinput", "--backup")

    assert result.code == 0, result.output
    assert "Backup written to" in result.out
    assert len(list(backups_in_tmp.iterdir())) == 1
    assert target.applied() == []


def test_down_refuses_backup_with_no_backup(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0

    result = target.run("sqlmigrate_down", "--noinput", "--backup", "--no-backup")

    assert result.code == 2
    assert "not allowed with argument" in result.err
    assert target.applied() == [1]


@pytest.mark.parametrize(
    "command, abbreviation",
    [
        ("sqlmigrate_up", "--lock-time=5"),
        ("sqlmigrate_up", "--allow-out"),
        ("sqlmigrate_down", "--backup-d=x"),
        ("sqlmigrate_status", "--js"),
        ("sqlmigrate_repair", "--dry"),
    ],
)
def test_no_command_takes_an_abbreviated_option(
    migrations: MigrationFiles, command: str, abbreviation: str
) -> None:
    migrations.table(1, "a")

    result = run_python("manage.py", command, abbreviation, migrations_dir=migrations.path)

    assert result.code == 2, result.output
    assert f"unrecognized arguments: {abbreviation}" in result.err
    assert len(result.err.strip().splitlines()) == 1
