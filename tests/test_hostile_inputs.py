"""Inputs that used to hang a command, crash it with a traceback, or let two runners
share a SQLite database: a database reached through a symlink, a lock file that cannot
be opened, a FIFO or a device named like a migration, another connection's write lock
while the history table is created."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import MigrationFiles, TargetDatabase, manage, run_python
from tests.test_run_lock import _hold_the_run

SQLITE_ONLY = pytest.mark.parametrize("target", ["sqlite"], indirect=True)

# SQLite run lock: one lock per database file -----------------------------------


@SQLITE_ONLY
@pytest.mark.parametrize("hops", [1, 2])
def test_a_runner_through_a_symlink_waits_for_the_runner_on_the_real_file(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path, hops: int
) -> None:
    assert target.path is not None
    target.execute("CREATE TABLE held (id integer)")
    migrations.pair("001_a", "CREATE TABLE a (id integer);", "DROP TABLE a;")
    link = target.path
    for hop in range(hops):  # link-1 -> the file, link-2 -> link-1
        (tmp_path / f"link-{hop + 1}.sqlite3").symlink_to(link.name)
        link = tmp_path / f"link-{hop + 1}.sqlite3"
    holder = _hold_the_run(target, migrations)
    try:
        started = time.monotonic()
        result = run_python(
            "manage.py",
            "sqlmigrate_up",
            "--lock-timeout",
            "0.5",
            database_url=f"sqlite:///{link}",
            migrations_dir=migrations.path,
        )
        waited = time.monotonic() - started
    finally:
        holder.release()

    assert result.code == 1, result.output
    assert (
        "another sqlmigrations runner holds the migration lock on this database "
        f"(pid {holder.proc.pid} "
    ) in result.err, result.err
    assert "gave up after 0.5s" in result.err
    assert waited < 30
    out, err = holder.proc.communicate(timeout=60)
    assert holder.proc.returncode == 0, out + err
    assert target.applied() == [1]
    assert not Path(f"{link}-sqlmigrations-lock").exists()


@SQLITE_ONLY
@pytest.mark.parametrize("obstacle", ["directory", "dangling symlink"])
def test_a_lock_file_that_cannot_be_opened_is_one_line_exit_1(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path, obstacle: str
) -> None:
    assert target.path is not None
    migrations.table(1, "a")
    lock = Path(f"{target.path}-sqlmigrations-lock")
    if obstacle == "directory":
        lock.mkdir()
        reason = "Is a directory"
    else:
        lock.symlink_to(tmp_path / "missing" / "lock")
        reason = "No such file or directory"
    result = target.run("sqlmigrate_up")

    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    assert result.err.strip() == (
        f"cannot open the migration lock file {lock} ({reason}); nothing was run"
    )
    assert target.applied() == []


# Migration files that are not regular files -------------------------------------


def _not_regular(migrations: MigrationFiles, kind: str) -> Path:
    migrations.table(1, "a")
    path = migrations.path / "002_d.up.sql"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    migrations.write("002_d.down.sql", "SELECT 1;")
    return path


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_a_migration_that_is_not_a_regular_file_is_a_file_problem(
    target: TargetDatabase, migrations: MigrationFiles, kind: str
) -> None:
    path = _not_regular(migrations, kind)
    problem = f"{path}: not a regular file"

    status = run_python(
        "manage.py",
        "sqlmigrate_status",
        database_url=target.url,
        migrations_dir=migrations.path,
        timeout=30,
    )
    up = run_python(
        "manage.py",
        "sqlmigrate_up",
        database_url=target.url,
        migrations_dir=migrations.path,
        timeout=30,
    )

    assert status.code == 2, status.output
    assert problem in status.err
    assert "Traceback" not in status.output
    assert up.code == 2, up.output
    assert problem in up.err
    assert "Traceback" not in up.output
    assert target.applied() == []


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_manage_check_lists_a_migration_that_is_not_a_regular_file(
    migrations: MigrationFiles, kind: str
) -> None:
    path = _not_regular(migrations, kind)

    result = manage("check", migrations_dir=migrations.path, timeout=30)

    assert result.code == 1, result.output
    assert f"{path}: not a regular file" in result.err


# The history table under another connection's write lock ------------------------


@SQLITE_ONLY  # PostgreSQL creates it under the run's lock; no other writer blocks it
def test_creating_the_history_table_gives_up_after_the_lock_timeout(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    assert target.path is not None
    migrations.table(1, "a")
    blocker = sqlite3.connect(target.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        result = target.run("sqlmigrate_up", "--lock-timeout", "1")
        waited = time.monotonic() - started
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    assert "gave up after 1s" in result.err
    assert waited < 4, f"waited {waited:.1f}s for a 1s lock timeout"
    assert target.applied() == []
