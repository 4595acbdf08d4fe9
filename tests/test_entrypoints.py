"""Django's own entry points and conventions: --version, options, check, runserver, admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

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


@pytest.mark.django_db
def test_admin_shows_the_history_read_only(admin_client: Any) -> None:
    from django.utils import timezone

    from sqlmigrations.models import SchemaMigration

    SchemaMigration.objects.create(
        version=9001,
        name="9001_half_done",
        checksum="0" * 64,
        applied_at=timezone.now(),
        execution_ms=1234,
        dirty=True,
    )
    base = "/admin/sqlmigrations/schemamigration/"

    listing = admin_client.get(base)

    assert listing.status_code == 200
    page = listing.content.decode()
    for column in ("Version", "Name", "Applied at", "Duration", "State"):
        assert column in page
    assert "001_initial_schema" in page
    assert "9001_half_done" in page and "1234 ms" in page
    assert "failed, may be partly applied" in page
    assert f'href="{base}add/"' not in page
    assert admin_client.get(f"{base}add/").status_code == 403
    detail = admin_client.get(f"{base}9001/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert admin_client.post(f"{base}9001/change/", {"name": "x"}).status_code == 403
    assert admin_client.post(f"{base}9001/delete/", {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": ["9001"], "post": "yes"}
    admin_client.post(base, bulk)
    assert SchemaMigration.objects.get(version=9001).name == "9001_half_done"


@pytest.mark.parametrize(
    "per_alias, setting",
    [
        (False, "SQLMIGRATIONS_DIRS"),
        (True, "SQLMIGRATIONS_DATABASE_DIRS['default']"),
    ],
)
def test_check_names_the_setting_of_a_missing_directory_and_the_fix(
    tmp_path: Path, settings: Any, per_alias: bool, setting: str
) -> None:
    missing = tmp_path / "db" / "migrations"
    if per_alias:
        settings.SQLMIGRATIONS_DATABASE_DIRS = {"default": [missing]}
    else:
        settings.SQLMIGRATIONS_DIRS = [missing]
        settings.SQLMIGRATIONS_DATABASE_DIRS = {}

    with pytest.raises(SystemCheckError) as raised:
        call_command("check")

    message = str(raised.value)
    assert f"migrations directory {missing} does not exist (named by {setting})" in message
    assert 'python manage.py sqlmigrate_new "first migration"' in message
    assert f"or correct {setting} in your settings" in message
