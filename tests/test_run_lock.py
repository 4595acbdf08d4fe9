"""One runner at a time for the whole run, on both databases: concurrent up and down
runs end in a state that some sequence of whole runs could produce."""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

from tests.conftest import MigrationFiles, TargetDatabase, pg_connect, pg_execute, start_command

VERSIONS = 4
STAGGERS = (0.5, 1.5)  # seconds between starting a full rollback and an up


def _slow(vendor: str) -> str:
    """A few tenths of a second of work, so the runs overlap migration by migration."""
    if vendor == "postgresql":
        return "SELECT pg_sleep(0.2);"
    return (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 700000)"
        " SELECT count(*) FROM c;"
    )


def test_mixed_up_and_down_runners_leave_a_prefix_applied(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    pause = _slow(target.vendor)
    for version in range(1, VERSIONS + 1):
        migrations.pair(
            f"{version:03d}_step",
            f"CREATE TABLE t{version} (id integer);\n{pause}\n",
            f"DROP TABLE t{version};\n{pause}\n",
        )
    for stagger in STAGGERS:
        assert target.run("sqlmigrate_up").code == 0
        down = start_command(
            target, migrations, "sqlmigrate_down", "--noinput", "--no-backup", "--target", "0"
        )
        time.sleep(stagger)  # the rollback is under way: an up starts in the middle of it
        up = start_command(target, migrations, "sqlmigrate_up")
        for proc in (down, up):
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, out + err
            assert "Traceback" not in err

        applied = target.applied()
        assert applied == list(range(1, len(applied) + 1)), f"stagger {stagger}: {applied}"
        tables = {t for t in target.user_tables() if t.startswith("t")}
        assert tables == {f"t{v}" for v in applied}, f"stagger {stagger}"


def test_a_waiting_runner_names_the_holder_and_honours_lock_timeout(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    target.execute("CREATE TABLE held (id integer)")
    migrations.pair(
        "001_read_held", "SELECT count(*) FROM held;\nCREATE TABLE a (id integer);", "DROP TABLE a;"
    )
    holder = _hold_the_run(target, migrations)
    try:
        started = time.monotonic()
        result = target.run("sqlmigrate_up", "--lock-timeout", "0.5")
        waited = time.monotonic() - started
    finally:
        holder.release()

    assert result.code == 1
    assert result.err.startswith(
        "another sqlmigrations runner holds the migration lock on this database (pid "
    ), result.err
    if target.vendor == "sqlite":  # PostgreSQL names the server process instead
        assert result.err.startswith(
            f"another sqlmigrations runner holds the migration lock on this database (pid {holder.proc.pid} "
        ), result.err
    assert "gave up after 0.5s" in result.err
    assert waited < 5
    out, err = holder.proc.communicate(timeout=60)
    assert holder.proc.returncode == 0, out + err
    assert target.applied() == [1]


class _Holder:
    """A real runner kept inside its run: its first migration waits for a table
    another connection holds."""

    def __init__(self, target: TargetDatabase, migrations: MigrationFiles):
        self.target = target
        if target.vendor == "sqlite":
            assert target.path is not None
            self.blocker: Any = sqlite3.connect(target.path, isolation_level=None)
            self.blocker.execute("BEGIN IMMEDIATE")
        else:
            self.blocker = pg_connect(target.url, autocommit=False)
            pg_execute(self.blocker, "LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        self.proc = start_command(target, migrations, "sqlmigrate_up", "--lock-timeout", "60")

    def release(self) -> None:
        if self.target.vendor == "sqlite":
            self.blocker.execute("ROLLBACK")
        else:
            self.blocker.rollback()
        self.blocker.close()


def _hold_the_run(target: TargetDatabase, migrations: MigrationFiles) -> _Holder:
    holder = _Holder(target, migrations)
    deadline = time.monotonic() + 30
    while not _holds_lock(target, holder.proc.pid):
        assert holder.proc.poll() is None, holder.proc.communicate()
        assert time.monotonic() < deadline, "the runner never took the lock"
        time.sleep(0.05)
    return holder


def _holds_lock(target: TargetDatabase, pid: int) -> bool:
    if target.vendor == "sqlite":
        assert target.path is not None
        lock_file = f"{target.path}-sqlmigrations-lock"
        return os.path.exists(lock_file) and f"pid {pid} " in open(lock_file).read()
    return bool(
        target.query(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    )
