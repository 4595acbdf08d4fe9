"""Files a careless or hostile checkout can hold: out-of-range versions, misspelled
suffixes, editor leftovers, and one directory configured under several spellings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import MigrationFiles, TargetDatabase, manage

LARGEST = 2**63 - 1  # the history's version column is a signed 64-bit integer


def refused(target: TargetDatabase, *args: str) -> list[str]:
    """Run up; it must stop with exit 2 before creating anything. Returns the error lines."""
    result = target.run("sqlmigrate_up", *args)
    assert result.code == 2, result.output
    assert "Traceback" not in result.output
    assert target.tables() == set()
    return result.err.splitlines()


# Versions ------------------------------------------------------------------


def test_the_largest_64_bit_version_is_applied_and_recorded(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.pair(f"{LARGEST}_last", "CREATE TABLE last (id integer);", "DROP TABLE last;")

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.applied() == [1, LARGEST]


def test_a_version_past_64_bits_is_a_file_problem_listed_with_the_others(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    big = LARGEST + 1
    up = migrations.write(f"{big}_too_big.up.sql", "SELECT 1;")
    down = migrations.write(f"{big}_too_big.down.sql", "SELECT 1;")
    oops = migrations.write("oops.sql", "SELECT 1;")

    lines = refused(target)

    too_big = (
        f"version {big} is too large: a version is stored as a 64-bit integer, at most {LARGEST}"
    )
    assert lines == [
        f"{down}: {too_big}",
        f"{up}: {too_big}",
        f"{oops}: bad file name, expected NNN_description.up.sql / NNN_description.down.sql "
        "(description: letters, digits, _, - and dots between them)",
    ]


def test_a_huge_version_with_many_digits_is_one_clear_line(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    huge = "9" * 200
    path = migrations.write(f"{huge}_x.up.sql", "SELECT 1;")
    migrations.write(f"{huge}_x.down.sql", "SELECT 1;")

    lines = refused(target)

    assert f"{path}: version {huge} is too large" in lines[1]
    assert len(lines) == 2


def test_new_refuses_to_number_past_the_largest_version(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(f"{LARGEST}_last", "SELECT 1;", "SELECT 1;")

    result = target.run("sqlmigrate_new", "one more")

    assert result.code == 2, result.output
    assert result.err == (
        f"cannot number a new migration: {LARGEST}_last already has the largest version "
        f"a migration can have ({LARGEST})"
    )
    assert sorted(p.name for p in migrations.path.iterdir()) == [
        f"{LARGEST}_last.down.sql",
        f"{LARGEST}_last.up.sql",
    ]


def test_new_refuses_to_number_past_a_largest_version_applied_elsewhere(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(f"{LARGEST}_last", "SELECT 1;", "SELECT 1;")
    assert target.run("sqlmigrate_up").code == 0
    for path in migrations.path.iterdir():  # applied from another branch
        path.unlink()

    result = target.run("sqlmigrate_new", "one more")

    assert result.code == 2, result.output
    assert result.err == (
        f"cannot number a new migration: migration {LARGEST}, applied on the database, "
        f"already has the largest version a migration can have ({LARGEST})"
    )
    assert list(migrations.path.iterdir()) == []


@pytest.mark.parametrize("prefix", ["0", "000", "0000000"])
def test_version_zero_is_refused_because_target_0_means_before_every_migration(
    target: TargetDatabase, migrations: MigrationFiles, prefix: str
) -> None:
    migrations.table(1, "a")
    up = migrations.write(f"{prefix}_setup.up.sql", "CREATE TABLE setup (id integer);")
    down = migrations.write(f"{prefix}_setup.down.sql", "DROP TABLE setup;")

    lines = refused(target)

    reason = (
        "version 0 is not allowed: --target 0 means before every migration, "
        "so number migrations from 1"
    )
    assert lines == [f"{down}: {reason}", f"{up}: {reason}"]


# Spelling of file names ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "right"),
    [
        ("002_b.up.SQL", "002_b.up.sql"),
        ("002_b.Up.sql", "002_b.up.sql"),
        ("002_b.UP.SQL", "002_b.up.sql"),
        ("002_b.up.Sql", "002_b.up.sql"),
        ("002_b.SQLite.up.sql", "002_b.sqlite.up.sql"),
        ("002_b.PostgreSQL.UP.sql", "002_b.postgresql.up.sql"),
        ("002_b.up.sql ", "002_b.up.sql"),
        (" 002_b.up.sql", "002_b.up.sql"),
        ("002_b.up.sql\t", "002_b.up.sql"),
    ],
)
def test_a_misspelled_migration_file_is_reported_with_the_right_spelling(
    target: TargetDatabase, migrations: MigrationFiles, name: str, right: str
) -> None:
    migrations.table(1, "a")
    path = migrations.write(name, "CREATE TABLE b (id integer);")
    migrations.write("002_b.down.sql", "DROP TABLE b;")

    lines = refused(target)

    assert f"{path}: misspelled migration file name, rename it to {right}" in lines


def test_a_misspelled_down_file_is_reported_too(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.write("001_a.up.sql", "CREATE TABLE a (id integer);")
    path = migrations.write("001_a.DOWN.SQL", "DROP TABLE a;")

    lines = refused(target)

    assert lines[0] == f"{path}: misspelled migration file name, rename it to 001_a.down.sql"


@pytest.mark.parametrize(
    "name",
    [
        "001_a.up.sql.bak",
        "001_a.up.sql~",
        "001_a.up.sql.orig",
        "001_a.up.sql.swp",
        "#001_a.up.sql#",
        ".#001_a.up.sql",
        ".001_a.up.sql.swp",
        "notes.txt",
        "README.md",
    ],
)
def test_editor_and_merge_leftovers_are_ignored(
    target: TargetDatabase, migrations: MigrationFiles, name: str
) -> None:
    migrations.table(1, "a")
    migrations.write(name, "garbage that would fail if it ran")

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.applied() == [1]


def test_manage_check_reports_a_misspelled_file(migrations: MigrationFiles) -> None:
    migrations.table(1, "a")
    path = migrations.write("002_b.up.SQL", "SELECT 1;")
    migrations.write("002_b.down.sql", "SELECT 1;")

    result = manage("check", migrations_dir=migrations.path)

    assert result.code == 1
    assert f"{path}: misspelled migration file name, rename it to 002_b.up.sql" in result.err


# One directory, several spellings -------------------------------------------


def spellings(path: Path, tmp_path: Path) -> list[str | Path]:
    link = tmp_path / "link"
    link.symlink_to(path)
    return [
        path,
        f"{path}/",
        str(path),
        f"{path}/./",
        path.parent / "x" / ".." / path.name,
        os.path.relpath(path),
        link,
    ]


def test_one_directory_configured_under_several_spellings_is_read_once(
    target: TargetDatabase,
    migrations: MigrationFiles,
    settings: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x").mkdir()
    other = MigrationFiles(tmp_path / "other")
    migrations.table(1, "a")
    other.table(2, "b")
    configured = [*spellings(migrations.path, tmp_path), other.path, f"{other.path}/"]
    settings.SQLMIGRATIONS_DIRS = configured  # type: ignore[attr-defined]

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.applied() == [1, 2]
    # sqlmigrate_new writes to the last directory, and accepts any spelling of one.
    assert target.run("sqlmigrate_new", "next").code == 0
    assert (other.path / "003_next.up.sql").exists()
    result = target.run("sqlmigrate_new", "--dir", os.path.relpath(migrations.path), "again")
    assert result.code == 0, result.output
    assert (migrations.path / "004_again.up.sql").exists()
