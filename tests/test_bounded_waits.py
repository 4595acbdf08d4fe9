"""Every wait is bounded and says what it waits for: a migration's lock waits, and connecting."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import (
    MigrationFiles,
    TargetDatabase,
    manage,
    pg_connect,
    pg_connection,
    pg_execute,
    run_python,
)

ALTER = "ALTER TABLE t ADD COLUMN x integer;\n"


class Blocker:
    """Another session (an application, not a runner) in an open transaction on table t.

    PostgreSQL: it has read t, so it holds ACCESS SHARE, which an ALTER TABLE must
    wait for. SQLite: it holds the file's write lock, which every migration needs.
    """

    def __init__(self, target: TargetDatabase):
        self.vendor = target.vendor
        self._lock = threading.Lock()
        self._open = True
        if target.vendor == "postgresql":
            self._pg = pg_connect(target.url)
            pg_execute(self._pg, "BEGIN")
            pg_execute(self._pg, "SELECT * FROM t")
            self.pid = self._pg.info.backend_pid
        else:
            assert target.path is not None
            self._lite = sqlite3.connect(target.path, isolation_level=None, check_same_thread=False)
            self._lite.execute("BEGIN IMMEDIATE")
            self.pid = os.getpid()

    def release(self) -> None:
        with self._lock:
            if not self._open:
                return
            self._open = False
            if self.vendor == "postgresql":
                pg_execute(self._pg, "ROLLBACK")
                self._pg.close()
            else:
                self._lite.execute("ROLLBACK")
                self._lite.close()

    def release_after(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.release)
        timer.start()
        return timer


@contextmanager
def blocking(target: TargetDatabase) -> Iterator[Blocker]:
    blocker = Blocker(target)
    try:
        yield blocker
    finally:
        blocker.release()


def columns(target: TargetDatabase, table: str) -> list[str]:
    if target.vendor == "sqlite":
        return [row[1] for row in target.query(f"PRAGMA table_info({table})")]
    return [
        row[0]
        for row in target.query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        )
    ]


def blocker_text(blocker: Blocker) -> str:
    """How each vendor names the session a migration waited for."""
    if blocker.vendor == "postgresql":
        return f"blocked by pid {blocker.pid}, user postgres, state idle in transaction, for "
    return "blocked by another connection holding the write lock on the SQLite file"


@pytest.fixture
def with_table(target: TargetDatabase, migrations: MigrationFiles, settings: Any) -> TargetDatabase:
    migrations.pair("001_t", "CREATE TABLE t (id integer PRIMARY KEY);", "DROP TABLE t;")
    assert target.run("sqlmigrate_up").code == 0
    settings.SQLMIGRATIONS_STATEMENT_LOCK_TIMEOUT = 0.5
    settings.SQLMIGRATIONS_LOCK_RETRIES = 2
    return target


# ---------------------------------------------------------------------------
# A migration waiting for a lock held by another session


def test_a_blocked_migration_is_retried_then_fails_naming_the_blocker(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("002_alter_t", ALTER, "SELECT 1;")

    with blocking(with_table) as blocker:
        started = time.monotonic()
        result = with_table.run("sqlmigrate_up")
        elapsed = time.monotonic() - started

    assert result.code == 1, result.output
    for attempt in (1, 2):
        line = next(
            (
                line
                for line in result.out.splitlines()
                if f"lock timeout on 002_alter_t (attempt {attempt} of 3): " in line
            ),
            None,
        )
        assert line is not None, result.output
        assert blocker_text(blocker) in line
        if blocker.vendor == "postgresql":
            assert "query started " in line and ": SELECT * FROM t; retrying in " in line
    assert "(attempt 3 of 3)" not in result.out  # the last attempt fails the run instead
    assert "Traceback" not in result.output
    first, *rest = result.err.splitlines()
    assert first.startswith("002_alter_t.up.sql:1: ")
    assert any(blocker_text(blocker) in line for line in rest)
    assert any("gave up after 3 attempts" in line for line in rest)
    assert "Applied before the failure: none." in result.err
    assert "Not applied (rolled back or not started): 002_alter_t." in result.err
    # Three attempts of 0.5s and two pauses: bounded, whatever the blocker does.
    assert elapsed < 15
    assert columns(with_table, "t") == ["id"]
    assert with_table.applied() == [1]


def test_the_run_succeeds_when_the_blocker_ends_during_the_retries(
    with_table: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    settings.SQLMIGRATIONS_LOCK_RETRIES = 10
    migrations.pair("002_alter_t", ALTER, "SELECT 1;")

    with blocking(with_table) as blocker:
        timer = blocker.release_after(1.0)
        result = with_table.run("sqlmigrate_up")
        timer.join()

    assert result.code == 0, result.output
    assert "lock timeout on 002_alter_t (attempt 1 of 11): " in result.out
    assert blocker_text(blocker) in result.out
    assert "Applying 002_alter_t... OK" in result.out
    assert columns(with_table, "t") == ["id", "x"]
    assert with_table.applied() == [1, 2]
    assert with_table.run("sqlmigrate_status", "--check").code == 0


def test_rolling_back_is_retried_the_same_way(
    with_table: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    settings.SQLMIGRATIONS_LOCK_RETRIES = 10
    migrations.pair("002_alter_t", ALTER, "ALTER TABLE t DROP COLUMN x;")
    assert with_table.run("sqlmigrate_up").code == 0

    with blocking(with_table) as blocker:
        timer = blocker.release_after(1.0)
        result = with_table.run("sqlmigrate_down", "--noinput", "--no-backup")
        timer.join()

    assert result.code == 0, result.output
    assert "lock timeout on 002_alter_t (attempt 1 of 11): " in result.out
    assert columns(with_table, "t") == ["id"]
    assert with_table.applied() == [1]


def test_a_migration_chosen_as_a_deadlock_victim_is_retried(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("001_ab", "CREATE TABLE a (id int);\nCREATE TABLE b (id int);", "SELECT 1;")
    assert postgres.run("sqlmigrate_up").code == 0
    # Longer than deadlock_timeout (1s), so the server finds the cycle first.
    migrations.pair(
        "002_lock_both",
        "-- sqlmigrate: lock-timeout=5s\n"
        "LOCK TABLE a IN EXCLUSIVE MODE;\nLOCK TABLE b IN EXCLUSIVE MODE;\n",
        "SELECT 1;",
    )
    other = pg_connect(postgres.url)
    pg_execute(other, "BEGIN")
    pg_execute(other, "LOCK TABLE b IN EXCLUSIVE MODE")
    other_pid = other.info.backend_pid

    def close_the_cycle() -> None:
        # Once the runner holds a and waits for b, ask for a: a deadlock. (Its query
        # text is both statements with psycopg 3, which sends them in one message,
        # and the second alone with psycopg2: ask the server who waits for a lock.)
        deadline = time.monotonic() + 30
        while not postgres.query(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> %s AND wait_event_type = 'Lock'",
            (other_pid,),
        ):
            assert time.monotonic() < deadline, "the runner never waited for b"
            time.sleep(0.02)
        pg_execute(other, "LOCK TABLE a IN EXCLUSIVE MODE")
        pg_execute(other, "COMMIT")

    thread = threading.Thread(target=close_the_cycle)
    thread.start()
    try:
        result = postgres.run("sqlmigrate_up")
    finally:
        thread.join(timeout=30)
        other.close()

    assert result.code == 0, result.output
    assert f"deadlock on 002_lock_both (attempt 1 of 4): blocked by pid {other_pid}" in (result.out)
    assert "Applying 002_lock_both... OK" in result.out
    assert postgres.applied() == [1, 2]


def test_when_the_blocker_cannot_be_looked_up_the_run_still_says_so_in_one_line(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # A role allowed one connection: the runner's own. The look-up session is refused.
    role = f"sqlm_one_{postgres.name[-12:]}"
    postgres.execute(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 1")
    postgres.execute(f'GRANT ALL ON DATABASE "{postgres.name}" TO {role}')
    postgres.execute(f"GRANT ALL ON SCHEMA public TO {role}")
    postgres.execute("CREATE TABLE t (id integer PRIMARY KEY)")
    postgres.execute(f"ALTER TABLE t OWNER TO {role}")
    url = postgres.url.replace("postgres@", f"{role}@", 1)
    migrations.pair("001_alter_t", ALTER, "SELECT 1;")
    try:
        with blocking(postgres):
            result = manage(
                "sqlmigrate_up",
                "--statement-lock-timeout",
                "0.5",
                "--lock-retries",
                "1",
                database_url=url,
                migrations_dir=migrations.path,
                timeout=60,
            )
    finally:
        postgres.execute(f"REASSIGN OWNED BY {role} TO postgres")
        postgres.execute(f"DROP OWNED BY {role}")
        with pg_connection(postgres.url) as conn:
            pg_execute(
                conn,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                [role],
            )
        postgres.execute(f"DROP ROLE {role}")

    assert result.code == 1, result.output
    assert (
        "lock timeout on 001_alter_t (attempt 1 of 2): blocked by a session that could not be identified"
        in result.out
    )
    assert "Traceback" not in result.output
    assert "Exception in thread" not in result.output
    assert columns(postgres, "t") == ["id"]


def test_zero_retries_fails_after_one_attempt(
    with_table: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    settings.SQLMIGRATIONS_LOCK_RETRIES = 0
    migrations.pair("002_alter_t", ALTER, "SELECT 1;")

    with blocking(with_table) as blocker:
        result = with_table.run("sqlmigrate_up")

    assert result.code == 1, result.output
    assert "lock timeout on" not in result.out
    assert blocker_text(blocker) in result.err
    assert "gave up after 1 attempt " in result.err
    assert with_table.applied() == [1]


def test_the_file_directive_overrides_the_settings(
    with_table: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    # Settings that would wait for minutes; the file asks for one short attempt.
    settings.SQLMIGRATIONS_STATEMENT_LOCK_TIMEOUT = 120
    settings.SQLMIGRATIONS_LOCK_RETRIES = 5
    migrations.pair(
        "002_alter_t",
        "-- Adds x to t.\n-- sqlmigrate: lock-timeout=200ms lock-retries=0\n\n" + ALTER,
        "SELECT 1;",
    )

    with blocking(with_table) as blocker:
        started = time.monotonic()
        result = with_table.run("sqlmigrate_up")
        elapsed = time.monotonic() - started

    assert result.code == 1, result.output
    assert result.err.startswith("002_alter_t.up.sql:4: ")
    assert blocker_text(blocker) in result.err
    assert "gave up after 1 attempt of 0.2s" in result.err
    assert elapsed < 10
    assert with_table.applied() == [1]


def test_real_command_options_bound_the_wait(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("002_alter_t", ALTER, "SELECT 1;")

    with blocking(with_table) as blocker:
        result = manage(
            "sqlmigrate_up",
            "--no-color",
            "--statement-lock-timeout",
            "0.5",
            "--lock-retries",
            "1",
            database_url=with_table.url,
            migrations_dir=migrations.path,
            timeout=30,
        )

    assert result.code == 1, result.output
    assert "lock timeout on 002_alter_t (attempt 1 of 2): " in result.out
    assert blocker_text(blocker) in result.out
    # SQLite: the process holding the file's write lock, found in /proc/locks.
    assert f"pid {blocker.pid}" in result.out
    assert "gave up after 2 attempts of 0.5s" in result.err
    assert "Traceback" not in result.output
    assert with_table.applied() == [1]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("-- sqlmigrate: lock-timout=5s", "unknown setting 'lock-timout'"),
        ("-- sqlmigrate: lock-timeout=soon", "lock-timeout=soon"),
        ("-- sqlmigrate: lock-retries=-1", "lock-retries=-1"),
        ("-- sqlmigrate: lock-retries=2.5", "lock-retries=2.5"),
        # str.isdigit() is true for these; int() refuses both.
        ("-- sqlmigrate: lock-retries=\u00b2", "lock-retries=\u00b2"),
        ("-- sqlmigrate: lock-retries=" + "9" * 5000, "lock-retries=999"),
        ("-- sqlmigrate: no-transaction lock-retries=2", "no-transaction"),
        # Beyond what either database can take (a C int of milliseconds).
        ("-- sqlmigrate: statement-timeout=9999999", "statement-timeout=9999999"),
        ("-- sqlmigrate: lock-timeout=1s lock-timeout=2s", "given twice"),
    ],
)
def test_a_bad_directive_is_refused_before_anything_runs(
    target: TargetDatabase, migrations: MigrationFiles, header: str, problem: str
) -> None:
    migrations.table(1, "a")
    migrations.pair("002_alter_a", f"{header}\nALTER TABLE a ADD COLUMN x integer;\n", "SELECT 1;")

    result = target.run("sqlmigrate_up")

    assert result.code == 2, result.output
    assert result.err.startswith("002_alter_a.up.sql:1: ")
    assert problem in result.err.splitlines()[0]
    assert target.user_tables() == set()


def test_manage_py_check_reports_a_bad_directive(migrations: MigrationFiles) -> None:
    migrations.pair("001_a", "-- sqlmigrate: lock-timeout=soon\nSELECT 1;\n", "SELECT 1;")

    result = manage(
        "check", database_url="postgres://nobody@127.0.0.1:1/none", migrations_dir=migrations.path
    )

    assert result.code == 1, result.output
    assert "sqlmigrations.E001" in result.err
    assert "001_a.up.sql:1: lock-timeout=soon: the value must be a duration" in result.err


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e12", "soon"])
def test_a_bad_limit_option_is_refused_in_one_line(
    migrations: MigrationFiles, tmp_path: Any, value: str
) -> None:
    migrations.table(1, "a")
    database = tmp_path / "db.sqlite3"

    result = manage(
        "sqlmigrate_up",
        "--statement-lock-timeout",
        value,
        database_url=f"sqlite:///{database}",
        migrations_dir=migrations.path,
    )

    assert result.code == 2, result.output
    assert "--statement-lock-timeout" in result.err
    assert "Traceback" not in result.output
    assert not database.exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SQLMIGRATIONS_LOCK_RETRIES", -1),
        ("SQLMIGRATIONS_LOCK_RETRIES", "3"),
        ("SQLMIGRATIONS_STATEMENT_LOCK_TIMEOUT", float("nan")),
        ("SQLMIGRATIONS_STATEMENT_TIMEOUT", 1e12),
        ("SQLMIGRATIONS_CONNECT_TIMEOUT", "soon"),
    ],
)
def test_a_bad_setting_is_refused_before_anything_runs(
    target: TargetDatabase, migrations: MigrationFiles, settings: Any, name: str, value: Any
) -> None:
    migrations.table(1, "a")
    setattr(settings, name, value)

    result = target.run("sqlmigrate_up")

    assert result.code == 2, result.output
    assert result.err.startswith(name)
    assert target.user_tables() == set()


def test_a_directive_below_the_first_statement_is_refused(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_a", "CREATE TABLE a (id integer);\n-- sqlmigrate: lock-timeout=1s\n", "SELECT 1;"
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 2, result.output
    assert result.err.startswith("001_a.up.sql:2: ")
    assert "header" in result.err
    assert target.user_tables() == set()


def test_each_migration_runs_with_the_settings_unless_it_sets_its_own(
    postgres: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    settings.SQLMIGRATIONS_STATEMENT_LOCK_TIMEOUT = 0.3
    settings.SQLMIGRATIONS_STATEMENT_TIMEOUT = 45
    seen = (
        "SELECT current_setting('lock_timeout') AS lt, current_setting('statement_timeout') AS st"
    )
    migrations.pair("001_default", f"CREATE TABLE seen_default AS {seen};", "SELECT 1;")
    migrations.pair(
        "002_own_set",
        f"SET LOCAL lock_timeout = '7s';\nCREATE TABLE seen_own AS {seen};",
        "SELECT 1;",
    )
    migrations.pair(
        "003_directive",
        f"-- sqlmigrate: lock-timeout=0 statement-timeout=2min\nCREATE TABLE seen_directive AS {seen};",
        "SELECT 1;",
    )
    migrations.pair("004_after", f"CREATE TABLE seen_after AS {seen};", "SELECT 1;")

    result = postgres.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert postgres.query("SELECT lt, st FROM seen_default") == [("300ms", "45s")]
    assert postgres.query("SELECT lt, st FROM seen_own") == [("7s", "45s")]
    assert postgres.query("SELECT lt, st FROM seen_directive") == [("0", "2min")]
    assert postgres.query("SELECT lt, st FROM seen_after") == [("300ms", "45s")]


def test_a_statement_timeout_fails_the_migration_without_retrying(
    postgres: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    settings.SQLMIGRATIONS_STATEMENT_TIMEOUT = 0.3
    settings.SQLMIGRATIONS_LOCK_RETRIES = 3
    migrations.pair("001_slow", "CREATE TABLE a (id integer);\nSELECT pg_sleep(5);\n", "SELECT 1;")

    started = time.monotonic()
    result = postgres.run("sqlmigrate_up")
    elapsed = time.monotonic() - started

    assert result.code == 1, result.output
    assert result.err.startswith(
        "001_slow.up.sql:2: canceling statement due to statement timeout (SQLSTATE 57014)"
    )
    assert "lock timeout on" not in result.out
    assert elapsed < 4
    assert postgres.applied() == []
    assert postgres.user_tables() == set()


def test_a_no_transaction_file_is_never_retried(
    postgres: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    migrations.pair("001_t", "CREATE TABLE t (id integer PRIMARY KEY);", "DROP TABLE t;")
    assert postgres.run("sqlmigrate_up").code == 0
    settings.SQLMIGRATIONS_LOCK_RETRIES = 5
    migrations.pair(
        "002_alter_t",
        "-- sqlmigrate: no-transaction lock-timeout=200ms\nCREATE TABLE u (id integer);\n" + ALTER,
        "-- sqlmigrate: no-transaction\nDROP TABLE IF EXISTS u;\n",
    )

    with blocking(postgres) as blocker:
        result = postgres.run("sqlmigrate_up")

    assert result.code == 1, result.output
    assert "lock timeout on" not in result.out
    assert result.err.startswith("002_alter_t.up.sql:3: canceling statement due to lock timeout")
    assert blocker_text(blocker) in result.err
    assert "002_alter_t ran outside a transaction" in result.err
    assert postgres.query("SELECT dirty FROM schema_migrations WHERE version = 2") == [(True,)]


def test_a_no_transaction_file_waits_without_the_default_timeout(
    postgres: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    # Its statements cannot be retried: a timeout would leave it half done (an
    # INVALID index after CREATE INDEX CONCURRENTLY), so only its own directive sets one.
    migrations.pair("001_t", "CREATE TABLE t (id integer PRIMARY KEY);", "DROP TABLE t;")
    assert postgres.run("sqlmigrate_up").code == 0
    settings.SQLMIGRATIONS_STATEMENT_LOCK_TIMEOUT = 0.2
    migrations.pair(
        "002_alter_t", "-- sqlmigrate: no-transaction\n" + ALTER, "ALTER TABLE t DROP COLUMN x;"
    )

    with blocking(postgres) as blocker:
        timer = blocker.release_after(3.0)
        result = postgres.run("sqlmigrate_up")
        timer.join()

    assert result.code == 0, result.output
    # An unbounded wait still says what it waits for.
    assert f"002_alter_t... waiting for a lock with no lock timeout: {blocker_text(blocker)}" in (
        result.out
    )
    assert "Applying 002_alter_t... OK" in result.out
    assert columns(postgres, "t") == ["id", "x"]
    assert postgres.applied() == [1, 2]


@pytest.mark.parametrize("target", ["postgresql"], indirect=True)
def test_a_wait_with_the_lock_timeout_disabled_says_what_it_waits_for(
    with_table: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    settings.SQLMIGRATIONS_STATEMENT_LOCK_TIMEOUT = 0
    migrations.pair("002_alter_t", ALTER, "SELECT 1;")

    with blocking(with_table) as blocker:
        timer = blocker.release_after(3.0)
        result = with_table.run("sqlmigrate_up")
        timer.join()

    assert result.code == 0, result.output
    assert "lock timeout on" not in result.out
    assert f"waiting for a lock with no lock timeout: {blocker_text(blocker)}" in result.out
    assert "Applying 002_alter_t... OK" in result.out
    assert with_table.applied() == [1, 2]


# ---------------------------------------------------------------------------
# Connecting to a server that accepts and never answers


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never sends a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def run_against(
    port: int,
    migrations: MigrationFiles,
    *args: str,
    query: str = "",
    env: dict[str, str] | None = None,
    **settings: Any,
) -> tuple[Any, float]:
    started = time.monotonic()
    result = run_python(
        "manage.py",
        *args,
        "--no-color",
        database_url=f"postgres://deploy:s3cretpw@127.0.0.1:{port}/app{query}",
        migrations_dir=migrations.path,
        env={"SQLMIGRATIONS_TEST_SETTINGS": json.dumps(settings), **(env or {})},
        timeout=60,
    )
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    "command",
    [
        ["sqlmigrate_status"],
        ["sqlmigrate_up"],
        ["sqlmigrate_down", "--noinput"],
        ["sqlmigrate_repair"],
        ["sqlmigrate_verify"],
    ],
)
def test_commands_give_up_on_a_server_that_never_answers(
    silent_server: int, migrations: MigrationFiles, command: list[str]
) -> None:
    migrations.table(1, "a")
    # The same command against a port that refuses at once: what starting it costs on
    # this machine now, so the bound below counts connect timeouts, not load.
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()
    refused, baseline = run_against(
        refused_port, migrations, *command, SQLMIGRATIONS_CONNECT_TIMEOUT=3
    )
    assert refused.code == 1, refused.output

    result, elapsed = run_against(
        silent_server, migrations, *command, SQLMIGRATIONS_CONNECT_TIMEOUT=3
    )

    assert result.code == 1, result.output
    # One connect timeout (3 s) beyond the start-up, not one per connection attempted.
    assert elapsed - baseline < 5, (elapsed, baseline)
    error = result.err.strip()
    assert "\n" not in error, error
    assert f"127.0.0.1:{silent_server}" in error
    assert "no answer within 3s" in error
    assert "s3cretpw" not in result.output
    assert "Traceback" not in result.output


def test_the_default_connect_timeout_applies_without_any_setting(
    silent_server: int, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")

    result, elapsed = run_against(silent_server, migrations, "sqlmigrate_status")

    assert result.code == 1, result.output
    assert "no answer within 10s" in result.err
    assert elapsed < 30


def test_the_urls_own_connect_timeout_wins(silent_server: int, migrations: MigrationFiles) -> None:
    migrations.table(1, "a")

    result, elapsed = run_against(
        silent_server,
        migrations,
        "sqlmigrate_up",
        query="?connect_timeout=2",
        SQLMIGRATIONS_CONNECT_TIMEOUT=300,
    )

    assert result.code == 1, result.output
    assert "no answer within 2s" in result.err
    assert f"127.0.0.1:{silent_server}" in result.err
    assert elapsed < 20


def test_libpqs_own_environment_variable_wins_too(
    silent_server: int, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")

    result, elapsed = run_against(
        silent_server,
        migrations,
        "sqlmigrate_status",
        env={"PGCONNECT_TIMEOUT": "2"},
        SQLMIGRATIONS_CONNECT_TIMEOUT=300,
    )

    assert result.code == 1, result.output
    assert "no answer within 2s" in result.err
    assert elapsed < 20
