"""What a failed or refused run says is what happened, on both databases."""

from __future__ import annotations

import signal

import pytest

from tests.conftest import MigrationFiles, TargetDatabase, start_runner, wait_for_query

HISTORY_TRIGGER = {
    "sqlite": (
        "CREATE TRIGGER no_history BEFORE INSERT ON schema_migrations\n"
        "BEGIN SELECT RAISE(ABORT, 'history is read-only'); END;\n"
    ),
    "postgresql": (
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS\n"
        "$$BEGIN RAISE EXCEPTION 'history is read-only'; END$$;\n"
        "CREATE TRIGGER no_history BEFORE INSERT ON schema_migrations\n"
        "FOR EACH ROW EXECUTE FUNCTION refuse();\n"
    ),
}


def test_a_failing_history_write_is_the_migrations_failure(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    # Its own history row is the first the trigger refuses: the row fails, not a statement.
    migrations.pair("002_lock_history", HISTORY_TRIGGER[target.vendor], "SELECT 1;")

    result = target.run("sqlmigrate_up")

    assert result.code == 1, result.output
    lines = result.err.splitlines()
    assert lines[0].startswith("002_lock_history.up.sql: history is read-only"), result.err
    assert "Applied before the failure: 001_create_a." in result.err
    assert "Not applied (rolled back or not started): 002_lock_history." in result.err
    assert "Traceback" not in result.err
    assert target.applied() == [1]
    assert target.user_tables() == {"a"}  # the trigger went with its migration


def test_an_invalid_set_reports_every_problem_and_creates_nothing(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.write("002-bad-name.up.sql", "SELECT 1;")
    migrations.pair("003_commits", "CREATE TABLE c (id integer);\nCOMMIT;\n", "SELECT 1;")
    if target.vendor == "postgresql":
        migrations.pair("004_typo", "CREATE TABLE d (id integer);\nSELEC 1;\n", "SELECT 1;")

    for command in (["sqlmigrate_up"], ["sqlmigrate_up", "--dry-run"]):
        result = target.run(*command)

        assert result.code == 2, result.output
        assert "002-bad-name.up.sql: bad file name" in result.err
        assert "003_commits.up.sql:2: COMMIT would begin or end a transaction" in result.err
        if target.vendor == "postgresql":
            assert "004_typo.up.sql:2: syntax error" in result.err
        if target.vendor == "sqlite":
            assert target.path is not None and not target.path.exists()
        else:
            assert target.tables() == set()  # no schema_migrations, no django_migrations


@pytest.mark.postgresql
def test_ctrl_c_in_a_no_transaction_migration_says_it_may_be_partly_applied(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.pair(
        "002_outside",
        "-- sqlmigrate: no-transaction\nCREATE TABLE b (id integer);\nSELECT pg_sleep(30);\n",
        "-- sqlmigrate: no-transaction\nDROP TABLE IF EXISTS b;\n",
    )
    proc = start_runner(postgres, migrations)
    wait_for_query(postgres, "pg_sleep(30)")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, out + err
    assert "Traceback" not in err
    assert "rolled back" not in err
    assert "interrupted during 002_outside, which runs outside a transaction" in err
    assert "may be partly applied, and it is recorded as failed" in err
    assert "Applied before the interruption: 001_create_a." in err
    assert "sqlmigrate_repair" in err
    assert postgres.user_tables() == {"a", "b"}  # what it did stays done
    status = postgres.run("sqlmigrate_status", "--check")
    assert status.code == 1
    assert "failed midway outside a transaction" in status.out
