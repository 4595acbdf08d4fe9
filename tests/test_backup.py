"""Backups before destruction: written, named, restorable; a failed backup runs nothing."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import (
    MigrationFiles,
    TargetDatabase,
    create_postgres_database,
    drop_postgres_database,
    manage,
    postgres_url_for,
)


@pytest.fixture
def with_data(target: TargetDatabase, migrations: MigrationFiles) -> TargetDatabase:
    migrations.pair(
        "001_accounts",
        "CREATE TABLE accounts (id integer PRIMARY KEY, owner text);\n"
        "INSERT INTO accounts VALUES (1, 'ada'), (2, 'grace');\n",
        "DROP TABLE accounts;\n",
    )
    assert target.run("sqlmigrate_up").code == 0
    return target


def backup_from(output: str) -> Path:
    [line] = [line for line in output.splitlines() if line.startswith("Backup written to ")]
    return Path(line.removeprefix("Backup written to "))


def test_down_writes_a_restorable_backup_first(
    with_data: TargetDatabase, backups_in_tmp: Path
) -> None:
    result = with_data.run("sqlmigrate_down", "--noinput")

    assert result.code == 0, result.output
    backup = backup_from(result.out)
    assert backup.parent == backups_in_tmp
    assert result.out.index("Backup written to") < result.out.index("Unapplying 001_accounts")
    assert "accounts" not in with_data.user_tables()

    # The README's restore procedure brings the data back.
    if with_data.vendor == "sqlite":
        assert backup.name.endswith("-before-down.sqlite3")
        shutil.copy(backup, with_data.path)  # type: ignore[arg-type]
        assert with_data.query("SELECT owner FROM accounts ORDER BY id") == [("ada",), ("grace",)]
    else:
        assert backup.name.endswith("-before-down.dump")
        restored = create_postgres_database()
        try:
            subprocess.run(
                ["pg_restore", "--no-owner", "--dbname", postgres_url_for(restored), str(backup)],
                check=True,
                capture_output=True,
            )
            copy = TargetDatabase("postgresql", "unused", postgres_url_for(restored))
            assert copy.query("SELECT owner FROM accounts ORDER BY id") == [("ada",), ("grace",)]
            assert copy.applied() == [1]
        finally:
            drop_postgres_database(restored)


def test_no_backup_writes_none(with_data: TargetDatabase, backups_in_tmp: Path) -> None:
    result = with_data.run("sqlmigrate_down", "--noinput", "--no-backup")

    assert result.code == 0, result.output
    assert "Backup written" not in result.out
    assert not backups_in_tmp.exists()


def test_up_backs_up_only_when_asked(
    with_data: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    migrations.table(2, "b")
    migrations.table(3, "c")
    elsewhere = tmp_path / "chosen"

    plain = with_data.run("sqlmigrate_up", "--target", "2")
    asked = with_data.run("sqlmigrate_up", "--backup", "--backup-dir", str(elsewhere))

    assert "Backup written" not in plain.out
    assert asked.code == 0, asked.output
    assert backup_from(asked.out).parent == elsewhere
    assert backup_from(asked.out).name.endswith(
        "-before-up" + (".sqlite3" if with_data.vendor == "sqlite" else ".dump")
    )


def test_failed_backup_aborts_and_changes_nothing(
    with_data: TargetDatabase, tmp_path: Path
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")

    result = with_data.run("sqlmigrate_down", "--noinput", "--backup-dir", str(not_a_directory))

    assert result.code == 1
    assert result.err.startswith(f"cannot create backup directory {not_a_directory}")
    assert with_data.applied() == [1]
    assert "accounts" in with_data.user_tables()


def test_missing_pg_dump_aborts_with_a_clear_message(
    postgres: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    migrations.table(1, "a")
    assert postgres.run("sqlmigrate_up").code == 0
    bin_dir = tmp_path / "bin"  # a PATH with python but no pg_dump
    bin_dir.mkdir()
    url = postgres.url.replace("postgres@", "postgres:hunter2-secret@")

    result = manage(
        "sqlmigrate_down",
        "--noinput",
        database_url=url,
        migrations_dir=migrations.path,
        env={"PATH": str(bin_dir)},
    )

    assert result.code == 1
    assert "pg_dump was not found on PATH" in result.err
    assert "hunter2-secret" not in result.output
    assert postgres.applied() == [1]


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_sqlite_backup_is_a_consistent_copy(with_data: TargetDatabase) -> None:
    result = with_data.run("sqlmigrate_down", "--noinput")

    backup = backup_from(result.out)
    with sqlite3.connect(backup) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT version FROM schema_migrations").fetchall() == [(1,)]
