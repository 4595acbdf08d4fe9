"""A migration and its history row reach PostgreSQL as one message (batch.py).

These pin down what that must not change: every statement runs, a failure names
its own line and leaves nothing behind, the history row is exact, and a file
cannot end the migration's transaction early. Each runs on SQLite too, where the
statements still go one by one, so both paths behave alike.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
from django.db import connections, transaction

from sqlmigrations.batch import BatchFailed, run_batch
from sqlmigrations.errors import MigrationFailed
from sqlmigrations.executor import Executor
from tests.conftest import (
    PSYCOPG3,
    MigrationFiles,
    TargetDatabase,
    slow_statement,
    sqlite_code,
    start_runner,
    wait_for_query,
)


def test_statements_ending_in_comments_all_run(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    # A statement's text can end in a -- comment, and the last needs no semicolon:
    # joining them carelessly would comment out the next statement.
    migrations.pair(
        "001_comments",
        "CREATE TABLE a (id integer) -- first\n;\n"
        "INSERT INTO a VALUES (1); -- second\n"
        "INSERT INTO a VALUES (2) /* third */;\n"
        "INSERT INTO a VALUES (3) -- last, no semicolon",
        "DROP TABLE a;\n",
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.query("SELECT id FROM a ORDER BY id") == [(1,), (2,), (3,)]
    assert target.applied() == [1]


def test_error_without_a_position_names_its_own_statement(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    # A duplicate key carries no position in the message: the line must come from
    # knowing which statement failed, after statements that returned rows.
    migrations.table(1, "widgets")
    migrations.pair(
        "002_duplicate",
        "INSERT INTO widgets VALUES (1);\n"
        "SELECT id FROM widgets;\n"
        "SELECT 1;\n"
        "\n"
        "INSERT INTO widgets VALUES (1);\n"
        "INSERT INTO widgets VALUES (2);\n",
        "DELETE FROM widgets;\n",
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 1
    first_line = result.err.splitlines()[0]
    assert first_line.startswith("002_duplicate.up.sql:5: "), first_line
    if target.vendor == "postgresql":
        assert "(SQLSTATE 23505)" in first_line
    else:
        code = sqlite_code("SQLITE_CONSTRAINT_PRIMARYKEY")
        assert first_line.endswith(f"UNIQUE constraint failed: widgets.id{code}")
    assert target.applied() == [1]
    assert target.query("SELECT count(*) FROM widgets") == [(0,)]


def test_a_failed_migration_leaves_the_connection_usable(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    # From Python the connection lives on after a failure: it must not be left
    # inside the failed migration's transaction.
    migrations.pair(
        "001_bad", "CREATE TABLE a (id integer);\nSELECT * FROM b;\n", "DROP TABLE a;\n"
    )
    with pytest.raises(MigrationFailed):
        Executor(target.alias).up()

    migrations.pair("001_bad", "CREATE TABLE a (id integer);\nSELECT 1;\n", "DROP TABLE a;\n")
    applied = Executor(target.alias).up()
    connections[target.alias].close()

    assert [m.version for m in applied] == [1]
    assert target.applied() == [1]
    assert target.user_tables() == {"a"}


def test_execution_ms_is_the_time_the_migration_took(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    seconds = 0.3
    statement = slow_statement(target.vendor, seconds)
    migrations.pair("001_slow", f"{statement}\n{statement}\n", "SELECT 1;\n")

    started = time.perf_counter()
    assert target.run("sqlmigrate_up").code == 0
    wall_ms = (time.perf_counter() - started) * 1000

    [(execution_ms, applied_at)] = target.query(
        "SELECT execution_ms, applied_at FROM schema_migrations"
    )
    assert applied_at is not None
    assert execution_ms <= wall_ms
    if target.vendor == "postgresql":  # SQLite's stand-in has no fixed duration
        assert execution_ms >= 2 * seconds * 1000


@pytest.mark.parametrize(
    "statement", ["COMMIT;", "BEGIN;", "END;", "ROLLBACK;", "commit transaction;"]
)
def test_a_file_that_ends_its_own_transaction_is_refused_before_anything_runs(
    target: TargetDatabase, migrations: MigrationFiles, statement: str
) -> None:
    # Committing halfway would leave a half-applied migration behind after a failure.
    migrations.table(1, "widgets")
    migrations.pair(
        "002_commits",
        f"INSERT INTO widgets VALUES (1);\n{statement}\nINSERT INTO widgets VALUES (2);\n",
        "DELETE FROM widgets;\n",
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 2
    assert result.err.startswith(
        f"002_commits.up.sql:2: {statement.split()[0].upper().rstrip(';')} would begin or end "
        "a transaction inside the migration's own."
    ), result.err
    assert "-- sqlmigrate: no-transaction" in result.err
    assert target.applied() == []


def test_start_transaction_is_refused_on_postgresql(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("001_start", "START TRANSACTION;\nSELECT 1;\n", "SELECT 1;\n")

    result = postgres.run("sqlmigrate_up", "--dry-run")

    assert result.code == 2
    assert result.err.startswith("001_start.up.sql:1: START would begin or end a transaction")


def test_savepoints_stay_allowed(target: TargetDatabase, migrations: MigrationFiles) -> None:
    migrations.pair(
        "001_savepoints",
        "CREATE TABLE a (id integer);\n"
        "SAVEPOINT before_insert;\n"
        "INSERT INTO a VALUES (1);\n"
        "ROLLBACK TO SAVEPOINT before_insert;\n"
        "INSERT INTO a VALUES (2);\n"
        "RELEASE SAVEPOINT before_insert;\n",
        "DROP TABLE a;\n",
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.query("SELECT id FROM a") == [(2,)]


def test_a_no_transaction_file_may_manage_its_own_transactions(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_own",
        "-- sqlmigrate: no-transaction\n"
        "BEGIN;\nCREATE TABLE a (id integer);\nINSERT INTO a VALUES (1);\nCOMMIT;\n",
        "DROP TABLE a;\n",
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.query("SELECT id FROM a") == [(1,)]
    assert target.applied() == [1]


def test_copy_from_stdin_fails_on_its_line_and_changes_nothing(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # A migration file has no rows to send (psql's inline data is not SQL).
    migrations.pair(
        "001_copy", "CREATE TABLE a (id integer);\nCOPY a FROM STDIN;\n", "DROP TABLE a;\n"
    )

    result = postgres.run("sqlmigrate_up")

    assert result.code == 1
    assert result.err.startswith("001_copy.up.sql:2: COPY from stdin failed"), result.err
    assert postgres.applied() == []
    assert postgres.user_tables() == set()


def test_copy_to_stdout_runs_and_the_migration_goes_on(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_copy",
        "CREATE TABLE a (id integer);\nINSERT INTO a VALUES (1), (2);\n"
        "COPY a TO STDOUT;\nCREATE TABLE b (id integer);\n",
        "DROP TABLE b;\nDROP TABLE a;\n",
    )

    result = postgres.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert postgres.user_tables() == {"a", "b"}
    assert postgres.applied() == [1]


def test_a_deferred_constraint_failing_at_commit_is_reported_with_its_file(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "widgets")
    migrations.pair(
        "002_deferred",
        "CREATE TABLE p (id integer PRIMARY KEY);\n"
        "CREATE TABLE c (p_id integer REFERENCES p DEFERRABLE INITIALLY DEFERRED);\n"
        "INSERT INTO c VALUES (1);\n",
        "DROP TABLE c;\nDROP TABLE p;\n",
    )

    result = postgres.run("sqlmigrate_up")

    assert result.code == 1
    first_line = result.err.splitlines()[0]
    assert first_line.startswith("002_deferred.up.sql: insert or update on table"), first_line
    assert "(SQLSTATE 23503)" in first_line
    assert "Not applied (rolled back or not started): 002_deferred." in result.err
    assert postgres.applied() == [1]
    assert postgres.user_tables() == {"widgets"}


def test_a_terminated_session_names_the_statement_and_rolls_it_back(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # The server reports the termination as the running statement's error, so
    # the outcome is known: nothing of 002 was committed.
    migrations.table(1, "widgets")
    migrations.pair(
        "002_slow", "CREATE TABLE s (id integer);\nSELECT pg_sleep(30);\n", "DROP TABLE s;\n"
    )
    migrations.table(3, "later")
    runner = start_runner(postgres, migrations)
    try:
        wait_for_query(postgres, "pg_sleep(30)", terminate=True)
        out, err = runner.communicate(timeout=60)
    finally:
        runner.kill()

    assert runner.returncode == 1, out + err
    assert "002_slow.up.sql:2: terminating connection" in err
    if PSYCOPG3:  # psycopg2 hands over a FATAL's text without its code
        assert "(SQLSTATE 57P01)" in err
    assert "Applied before the failure: 001_create_widgets." in err
    assert "Not applied (rolled back or not started): 002_slow, 003_create_later." in err
    assert "Traceback" not in err
    assert postgres.applied() == [1]
    assert postgres.user_tables() == {"widgets"}


def test_a_terminated_session_in_a_no_transaction_file_leaves_a_truthful_failed_record(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # The statements before the terminated one stay done: the migration is recorded
    # as failed and the message says so, with its line, as for any other failure.
    migrations.table(1, "widgets")
    migrations.pair(
        "002_slow",
        "-- sqlmigrate: no-transaction\nCREATE TABLE s (id integer);\nSELECT pg_sleep(30);\n"
        "CREATE TABLE s2 (id integer);\n",
        "DROP TABLE IF EXISTS s2;\nDROP TABLE IF EXISTS s;\n",
    )
    migrations.table(3, "later")
    runner = start_runner(postgres, migrations)
    try:
        wait_for_query(postgres, "pg_sleep(30)", terminate=True)
        out, err = runner.communicate(timeout=60)
    finally:
        runner.kill()

    assert runner.returncode == 1, out + err
    assert err.startswith("CommandError: 002_slow.up.sql:3: terminating connection"), err
    assert "Applied before the failure: 001_create_widgets." in err
    assert "002_slow ran outside a transaction" in err
    assert "it is recorded as failed" in err
    assert "Traceback" not in err
    assert postgres.query("SELECT version, dirty FROM schema_migrations ORDER BY version") == [
        (1, False),
        (2, True),
    ]
    assert postgres.user_tables() == {"widgets", "s"}


@pytest.mark.psycopg3  # the one-message path
def test_a_connection_cut_midway_says_the_outcome_is_unknown(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # The network goes; the server, which has not noticed, may still commit the
    # whole message: the runner cannot know, and must not claim either way.
    migrations.table(1, "widgets")
    migrations.pair(
        "002_slow", "CREATE TABLE s (id integer);\nSELECT pg_sleep(1);\n", "DROP TABLE s;\n"
    )
    migrations.table(3, "later")
    upstream = urlsplit(postgres.url)
    proxy = CuttableProxy(upstream.hostname or "127.0.0.1", upstream.port or 5432)
    password = f":{upstream.password}" if upstream.password else ""
    proxied = upstream._replace(
        netloc=f"{upstream.username}{password}@127.0.0.1:{proxy.port}"
    ).geturl()
    runner = start_runner(dataclasses.replace(postgres, url=proxied), migrations)
    try:
        wait_for_query(postgres, "pg_sleep(1)")
        proxy.cut()
        out, err = runner.communicate(timeout=60)
    finally:
        runner.kill()
        proxy.cut()

    assert runner.returncode == 1, out + err
    assert "002_slow.up.sql: " in err
    assert "Applied before the failure: 001_create_widgets." in err
    assert "Whether 002_slow was committed is unknown" in err
    assert "sqlmigrate_status shows it" in err
    assert "Not applied (rolled back or not started): 003_create_later." in err
    assert "Traceback" not in err


class CuttableProxy:
    """A TCP relay to PostgreSQL that can drop every connection at once, as a network would."""

    def __init__(self, host: str, port: int):
        self.upstream = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # cut
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._relay, args=(source, sink), daemon=True).start()

    @staticmethod
    def _relay(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_up_inside_an_open_transaction_rolls_back_only_the_failed_migration(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # From Python, inside the caller's transaction (a TestCase, say), a message
    # gets no transaction of its own: each migration is a savepoint instead.
    migrations.table(1, "widgets")
    migrations.pair("002_bad", "CREATE TABLE b (id integer);\nSELECT 1/0;\n", "DROP TABLE b;\n")
    executor = Executor(postgres.alias)

    with transaction.atomic(using=postgres.alias):
        with pytest.raises(MigrationFailed) as failed:
            executor.up()
        # The caller's transaction goes on, holding the first migration only.
        with connections[postgres.alias].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM widgets")
            assert cursor.fetchone() == (0,)
    connections[postgres.alias].close()

    assert "002_bad.up.sql:2: " in str(failed.value)
    assert postgres.applied() == [1]
    assert postgres.user_tables() == {"widgets"}


@pytest.mark.psycopg3  # the one-message path
def test_a_failed_batch_leaves_no_transaction_open(postgres: TargetDatabase) -> None:
    connection = connections[postgres.alias]
    try:
        with pytest.raises(BatchFailed) as failed:
            run_batch(connection, ["CREATE TABLE a (id integer)", "SELECT * FROM b", "SELECT 1"])
        assert failed.value.index == 1
        # Inside an aborted transaction this would fail instead.
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'a'")
            assert cursor.fetchone() == (0,)
    finally:
        connection.close()
