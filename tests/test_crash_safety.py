"""kill -9 at random moments never leaves the schema and its history apart."""

from __future__ import annotations

import random
import re
import time

from tests.conftest import MigrationFiles, TargetDatabase, slow_statement, start_runner

MIGRATIONS = 40
MAX_KILLS = 8


def recorded(target: TargetDatabase) -> list[int]:
    return target.applied() if target.path is None or target.path.exists() else []


def wait_for_other_sessions_to_end(target: TargetDatabase) -> None:
    if target.vendor != "postgresql":
        return
    deadline = time.monotonic() + 30
    while target.query(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ) != [(0,)]:
        assert time.monotonic() < deadline, "the killed runner's session never ended"
        time.sleep(0.02)


def test_sigkill_mid_run_keeps_schema_and_history_in_step(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    pause = slow_statement(target.vendor, 0.03)
    for version in range(1, MIGRATIONS + 1):
        migrations.pair(
            f"{version:03d}_t{version}",
            f"CREATE TABLE t{version} (id integer);\n{pause}\nINSERT INTO t{version} VALUES (1);\n",
            f"DROP TABLE t{version};",
        )
    rng = random.Random(20261125)  # fixed seed: the same moments on every run
    kills = 0

    applied: list[int] = []
    for _ in range(MAX_KILLS):
        runner = start_runner(target, migrations, "--lock-timeout", "30")
        # Kill once this run has committed something new, a random moment later:
        # mid-statement, mid-commit or between migrations.
        before = len(applied)
        deadline = time.monotonic() + 30
        while (
            runner.poll() is None
            and time.monotonic() < deadline
            and len(recorded(target)) <= before
        ):
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.08))
        if runner.poll() is None:
            runner.kill()
            kills += 1
        runner.communicate(timeout=60)
        # The server may still be finishing the killed runner's last migration (it
        # notices the client is gone only when it next writes to it): look once
        # that session has ended, as the next runner (waiting on the lock) would.
        wait_for_other_sessions_to_end(target)

        applied = recorded(target)
        created = sorted(
            int(m[1]) for name in target.user_tables() if (m := re.fullmatch(r"t(\d+)", name))
        )
        # Every recorded migration is fully there (its table with its row), and no
        # migration left anything behind without its record.
        assert created == applied
        for version in applied:
            assert target.query(f"SELECT count(*) FROM t{version}") == [(1,)]
        if len(applied) == MIGRATIONS:
            break

    assert kills >= 1, "no run was killed mid-way: the test proved nothing"
    final = start_runner(target, migrations)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, out + err
    assert target.applied() == list(range(1, MIGRATIONS + 1))
