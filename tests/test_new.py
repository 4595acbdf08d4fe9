"""sqlmigrate_new writes the next pair of files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MigrationFiles, TargetDatabase


def test_writes_the_next_pair_with_the_existing_width(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")

    result = target.run("sqlmigrate_new", "Add risk profile")

    up = migrations.path / "003_add_risk_profile.up.sql"
    down = migrations.path / "003_add_risk_profile.down.sql"
    assert result.code == 0, result.output
    assert result.out == f"Created {up}\nCreated {down}\n"
    assert up.read_text() == "-- 003_add_risk_profile: Add risk profile\n\n"
    assert down.read_text().startswith("-- 003_add_risk_profile: undo Add risk profile")
    # The new pair is a valid, empty migration.
    assert target.run("sqlmigrate_up").code == 0
    assert target.applied() == [1, 2, 3]


def test_keeps_a_wider_width_and_numbers_after_the_highest(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(7, "a", width=4)

    result = target.run("sqlmigrate_new", "next")

    assert result.code == 0, result.output
    assert (migrations.path / "0008_next.up.sql").exists()


def test_first_migration_is_001(target: TargetDatabase, migrations: MigrationFiles) -> None:
    assert target.run("sqlmigrate_new", "initial schema").code == 0

    assert sorted(p.name for p in migrations.path.iterdir()) == [
        "001_initial_schema.down.sql",
        "001_initial_schema.up.sql",
    ]


@pytest.mark.parametrize(
    ("description", "file_name"),
    [("Café: señal/ñ & more!", "001_cafe_senal_n_more"), ("../../etc/passwd", "001_etc_passwd")],
)
def test_unsafe_descriptions_become_safe_names(
    target: TargetDatabase, migrations: MigrationFiles, description: str, file_name: str
) -> None:
    assert target.run("sqlmigrate_new", description).code == 0

    assert (migrations.path / f"{file_name}.up.sql").exists()
    assert len(list(migrations.path.iterdir())) == 2


def test_a_description_with_no_usable_character_is_refused(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    result = target.run("sqlmigrate_new", "!!! ???")

    assert result.code == 2
    assert result.err.startswith("cannot make a file name from '!!! ???'")
    assert list(migrations.path.iterdir()) == []


def test_refuses_to_number_after_an_invalid_set(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.write("001_lonely.up.sql", "SELECT 1;")

    result = target.run("sqlmigrate_new", "next")

    assert result.code == 2
    assert "has no matching .down.sql file" in result.err
    assert not list(migrations.path.glob("002_*"))


def test_never_reuses_a_version_applied_from_elsewhere(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")
    assert target.run("sqlmigrate_up").code == 0
    for path in migrations.path.glob("002_*"):  # applied from another branch
        path.unlink()

    assert target.run("sqlmigrate_new", "c").code == 0

    assert (migrations.path / "003_c.up.sql").exists()


def test_creates_the_configured_directory_for_a_first_migration(
    target: TargetDatabase, tmp_path: Path, settings: Any
) -> None:
    directory = tmp_path / "db" / "migrations"
    settings.SQLMIGRATIONS_DIRS = [directory]

    result = target.run("sqlmigrate_new", "first table")

    assert result.code == 0, result.output
    assert f"Created directory {directory}" in result.out
    assert sorted(p.name for p in directory.iterdir()) == [
        "001_first_table.down.sql",
        "001_first_table.up.sql",
    ]


def test_a_missing_directory_that_is_not_written_to_is_still_an_error(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path, settings: Any
) -> None:
    missing = tmp_path / "gone"
    settings.SQLMIGRATIONS_DIRS = [missing, migrations.path]

    result = target.run("sqlmigrate_new", "x")

    assert result.code == 2
    assert f"migrations directory {missing} does not exist" in result.err
    assert not missing.exists() and not list(migrations.path.iterdir())
