"""One runner at a time: real concurrent processes never apply a migration twice."""

from __future__ import annotations

import sqlite3
import time

import pytest

from sqlmigrations.vendors.pg_locks import ADVISORY_LOCK_KEY
from tests.conftest import (
    MigrationFiles,
    TargetDatabase,
    pg_connection,
    pg_execute,
    slow_statement,
    start_runner,
    wait_for_query,
)

RUNNERS = 4
MIGRATIONS = 12


def test_concurrent_runners_apply_each_migration_exactly_once(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    # The log table has no unique key: a migration applied twice leaves two rows.
    migrations.pair(
        "001_log", "CREATE TABLE applied_log (version integer);", "DROP TABLE applied_log;"
    )
    # Each step takes a while, so the runners' steps overlap.
    pause = slow_statement(target.vendor, 0.05)
    for version in range(2, MIGRATIONS + 1):
        migrations.pair(
            f"{version:03d}_step",
            f"INSERT INTO applied_log VALUES ({version});\n{pause}\n",
            f"DELETE FROM applied_log WHERE version = {version};",
        )

    # A brand-new database: the runners also race to create schema_migrations.
    runners = [start_runner(target, migrations) for _ in range(RUNNERS)]
    results = [(proc.wait(timeout=120), proc.stdout.read(), proc.stderr.read()) for proc in runners]  # type: ignore[union-attr]

    for code, out, err in results:
        assert code == 0, out + err
    assert target.applied() == list(range(1, MIGRATIONS + 1))
    assert sorted(target.query("SELECT version FROM applied_log")) == [
        (v,) for v in range(2, MIGRATIONS + 1)
    ]
    applied_lines = sum(out.count("... OK") for _, out, _ in results)
    assert applied_lines == MIGRATIONS


def test_gives_up_after_lock_timeout_naming_the_holder(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    with pg_connection(postgres.url) as holder:
        pg_execute(holder, "SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        holder_pid = holder.info.backend_pid

        started = time.monotonic()
        result = postgres.run("sqlmigrate_up", "--lock-timeout", "0.5")
        waited = time.monotonic() - started

    assert result.code == 1
    assert result.err.startswith(
        f"another sqlmigrations runner holds the migration lock on this database (pid {holder_pid}, user postgres"
    )
    assert "gave up after 0.5s" in result.err
    assert waited < 10
    assert postgres.applied() == []


def test_waits_for_the_lock_and_then_runs(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    with pg_connection(postgres.url) as holder:
        pg_execute(holder, "SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
        runner = start_runner(postgres, migrations, "--lock-timeout", "60")
        # Until it has polled twice: past the first try, which prints the holder.
        wait_for_query(postgres, "pg_try_advisory_lock")
        time.sleep(0.5)
        assert runner.poll() is None  # still waiting
        pg_execute(holder, "SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
        out, err = runner.communicate(timeout=60)

    assert runner.returncode == 0, out + err
    assert "Waiting for the migration lock held by pid" in out
    assert postgres.applied() == [1]


def test_lock_is_released_after_a_failed_run(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("001_bad", "SELECT * FROM nowhere;", "SELECT 1;")
    assert postgres.run("sqlmigrate_up").code == 1

    with pg_connection(postgres.url) as other:
        [got] = pg_execute(other, "SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])

    assert got == (True,)


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_sqlite_writer_holding_the_file_times_out_cleanly(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    assert target.path is not None
    blocker = sqlite3.connect(target.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        result = target.run("sqlmigrate_up", "--lock-timeout", "0.3")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert result.code == 1
    assert result.err.startswith("another connection holds the write lock on this SQLite database")
    assert target.applied() == []
