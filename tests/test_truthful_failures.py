"""What a failed or refused run says is what happened, on both databases."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from tests.conftest import (
    MigrationFiles,
    TargetDatabase,
    pg_connection,
    pg_execute,
    start_runner,
    wait_for_query,
)

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
    assert "rolled back" not in err, err
    assert "interrupted during 002_outside, which runs outside a transaction" in err
    assert "may be partly applied, and it is recorded as failed" in err
    assert "Applied before the interruption: 001_create_a." in err
    assert "sqlmigrate_repair" in err
    assert postgres.user_tables() == {"a", "b"}  # what it did stays done
    status = postgres.run("sqlmigrate_status", "--check")
    assert status.code == 1
    assert "failed midway outside a transaction" in status.out


NO_TRANSACTION = "-- sqlmigrate: no-transaction\n"


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_a_no_transaction_table_rebuild_keeps_child_rows_and_orphans_fail_it(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_pc",
        "CREATE TABLE p (id integer PRIMARY KEY);\n"
        "CREATE TABLE c (id integer PRIMARY KEY, "
        "pid integer REFERENCES p (id) ON DELETE CASCADE);\n"
        "INSERT INTO p VALUES (1), (2);\nINSERT INTO c VALUES (10, 1), (11, 2);\n",
        "DROP TABLE c;\nDROP TABLE p;\n",
    )
    migrations.pair(
        "002_rebuild",
        NO_TRANSACTION + "CREATE TABLE p_new (id integer PRIMARY KEY);\n"
        "INSERT INTO p_new SELECT id FROM p;\nDROP TABLE p;\nALTER TABLE p_new RENAME TO p;\n",
        "SELECT 1;\n",
    )
    migrations.pair(
        "003_orphan",
        NO_TRANSACTION + "PRAGMA foreign_keys = OFF;\nINSERT INTO c VALUES (42, 99);\n",
        "SELECT 1;\n",
    )

    result = target.run("sqlmigrate_up")

    assert target.query("SELECT id FROM c ORDER BY id")[:2] == [(10,), (11,)]
    assert result.code == 1, result.output
    first = result.err.splitlines()[0]
    assert first == (
        "003_orphan.up.sql: foreign key check failed after the file's last statement: "
        "1 row of c references missing rows of p (rowid 42)"
    )
    assert "003_orphan ran outside a transaction" in result.err
    assert target.query("SELECT version, dirty FROM schema_migrations ORDER BY 1") == [
        (1, 0),
        (2, 0),
        (3, 1),
    ]


def test_a_no_transaction_file_leaving_a_transaction_open_is_named(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.pair(
        "002_open",
        NO_TRANSACTION
        + "CREATE TABLE keep1 (i integer);\nBEGIN;\nCREATE TABLE lost1 (i integer);\n",
        NO_TRANSACTION + "DROP TABLE IF EXISTS keep1;\n",
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 1, result.output
    assert result.err.splitlines()[0] == (
        "002_open.up.sql: the file left a transaction open (a BEGIN without COMMIT); it was "
        "rolled back, so its statements after that BEGIN were not applied"
    )
    assert "Traceback" not in result.err
    assert "sqlmigrate_repair" in result.err
    assert target.user_tables() == {"a", "keep1"}
    assert target.run("sqlmigrate_status", "--check").code == 1


@pytest.mark.postgresql
def test_text_the_connection_cannot_encode_is_a_one_line_failure(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_enc",
        NO_TRANSACTION + "SET client_encoding = 'LATIN1';\nCREATE TABLE \"日本\" (id integer);\n",
        "SELECT 1;\n",
    )

    result = postgres.run("sqlmigrate_up")

    assert result.code == 1, result.output
    assert result.err.startswith("001_enc.up.sql:3: "), result.err
    assert "Traceback" not in result.err


@pytest.mark.psycopg3  # the one-message path's window after COMMIT
@pytest.mark.postgresql
def test_ctrl_c_after_the_server_committed_says_it_is_applied(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # Many results to read after the server's COMMIT: a window to interrupt in.
    body = "CREATE TABLE many (i integer);\n" + "SET LOCAL a.b = 1;\n" * 300_000
    migrations.pair("001_many", body, "DROP TABLE many;\n")
    for _ in range(3):  # the window is a second or so; a fast runner may slip through it
        proc = start_runner(postgres, migrations)
        deadline = time.monotonic() + 120
        while not ("schema_migrations" in postgres.tables() and postgres.applied() == [1]):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert postgres.applied() == [1]
        if proc.returncode != 0:
            break
        assert postgres.run("sqlmigrate_down", "--noinput", "--no-backup").code == 0

    assert proc.returncode == 130, out + err
    assert "rolled back" not in err, err
    assert "interrupted just after 001_many committed: it is applied." in err


@pytest.mark.postgresql
def test_sigterm_rolls_back_like_ctrl_c(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # docker stop and systemd send SIGTERM: the same clean-up and line as Ctrl-C.
    migrations.table(1, "a")
    migrations.pair(
        "002_slow", "CREATE TABLE b (id integer);\nSELECT pg_sleep(30);\n", "DROP TABLE b;"
    )
    proc = start_runner(postgres, migrations)
    wait_for_query(postgres, "pg_sleep(30)")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, out + err
    assert "interrupted during 002_slow, which was rolled back" in err
    assert "Traceback" not in err
    assert postgres.applied() == [1]
    assert postgres.user_tables() == {"a"}


def test_ctrl_c_while_commit_runs_a_deferred_trigger_is_an_interruption(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # COMMIT runs deferred constraint triggers, which Ctrl-C cancels: the migration
    # is rolled back, and that is said as for any interruption (exit 130).
    migrations.table(1, "a")
    migrations.pair(
        "002_deferred",
        "CREATE TABLE ct (id integer);\n"
        "CREATE FUNCTION slow_check() RETURNS trigger LANGUAGE plpgsql AS\n"
        "$$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$;\n"
        "CREATE CONSTRAINT TRIGGER ct_slow AFTER INSERT ON ct DEFERRABLE INITIALLY DEFERRED\n"
        "FOR EACH ROW EXECUTE FUNCTION slow_check();\n"
        "INSERT INTO ct VALUES (1);\n",
        "DROP TABLE ct;\nDROP FUNCTION slow_check();\n",
    )
    proc = start_runner(postgres, migrations)
    deadline = time.monotonic() + 30
    # The session's query is COMMIT (psycopg2) or the whole message (psycopg 3).
    while not postgres.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event = 'PgSleep' AND pid <> pg_backend_pid()"
    ):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the trigger never ran"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, out + err
    assert err.strip().splitlines()[-1] == (
        "CommandError: interrupted during 002_deferred, which was rolled back. "
        "Applied before the interruption: 001_create_a."
    ), err
    assert postgres.applied() == [1]
    assert postgres.user_tables() == {"a"}


@pytest.mark.postgresql
def test_the_runners_own_history_queries_wait_no_longer_than_the_lock_timeout(
    postgres: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    settings.SQLMIGRATIONS_LOCK_TIMEOUT = 1
    migrations.table(1, "a")
    assert postgres.run("sqlmigrate_up").code == 0
    migrations.table(2, "b")
    with pg_connection(postgres.url, autocommit=False) as holder:
        pg_execute(holder, "LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE")
        pid = holder.info.backend_pid
        for command in (
            ["sqlmigrate_status"],
            ["sqlmigrate_up"],
            ["sqlmigrate_down", "--noinput", "--no-backup"],
        ):
            started = time.monotonic()
            result = postgres.run(*command)
            waited = time.monotonic() - started

            assert result.code == 1, result.output
            assert result.err.startswith(
                "the runner's own query of its history table waited 1s for a lock held by "
                f"another session (pid {pid}, user "
            ), result.err
            assert waited < 15
        holder.rollback()
    assert postgres.applied() == [1]
    assert postgres.user_tables() == {"a"}
