"""Every way a command can end without finishing ends with one line and its exit code.

Ctrl-C outside a migration (start-up, waiting for the runner's lock, the confirmation
prompt) exits 130, Ctrl-D at the prompt and bad option values exit 2, and a DATABASE_URL
that cannot work exits 2 before anything is created. Signals and terminals are real:
``manage.py`` processes, SIGINT, and a pseudo-terminal for the prompt.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sqlmigrations.vendors.pg_locks import ADVISORY_LOCK_KEY
from tests.conftest import (
    POSTGRES_URL,
    REPO,
    MigrationFiles,
    TargetDatabase,
    _register_alias,
    _unregister_alias,
    copy_project,
    manage,
    pg_connection,
    pg_execute,
    postgres_url_for,
    require_postgres,
    wait_for_query,
    with_login,
)

SECRET = "hunter2-secret"


def command_env(database_url: str, migrations: MigrationFiles) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_PATH")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.subprocess_settings",
        SQLMIGRATIONS_TEST_DIRS=str(migrations.path),
        DATABASE_URL=database_url,
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",  # so that a test sees each line as it is printed
    )
    return env


def start_command(
    target: TargetDatabase, migrations: MigrationFiles, *args: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args, "--no-color"],
        cwd=REPO,
        env=command_env(target.url, migrations),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


# ---------------------------------------------------------------------------
# Ctrl-C while waiting for the runner's lock


@contextmanager
def lock_held(target: TargetDatabase) -> Iterator[None]:
    """Another session holds what a runner must get first: the advisory lock on
    PostgreSQL, the write lock of the file on SQLite."""
    if target.vendor == "postgresql":
        with pg_connection(target.url) as holder:
            pg_execute(holder, "SELECT pg_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
            yield
        return
    assert target.path is not None
    # Another runner's run lock: an exclusive flock on the file beside the database.
    with open(f"{target.path}-sqlmigrations-lock", "a+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        holder.write("pid 1 on another host, since 2026-01-01 00:00:00 UTC")
        holder.flush()
        try:
            yield
        finally:
            fcntl.flock(holder, fcntl.LOCK_UN)


def wait_until_waiting(target: TargetDatabase, proc: subprocess.Popen[str]) -> str:
    """Until the runner has said it waits for the lock; returns what it printed meanwhile."""
    return wait_for_line(proc, "Waiting for the migration lock held by ")


def wait_for_line(proc: subprocess.Popen[str], start: str) -> str:
    """Read the process's output (unbuffered: see command_env) up to a line starting so."""
    assert proc.stdout is not None
    seen = ""
    while True:
        line = proc.stdout.readline()
        assert line, f"the process ended without printing {start!r}: {seen}"
        seen += line
        if line.startswith(start):
            return seen


@pytest.fixture
def one_applied_one_pending(target: TargetDatabase, migrations: MigrationFiles) -> TargetDatabase:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0
    migrations.table(2, "b")
    return target


@pytest.mark.parametrize(
    "command",
    [
        ["sqlmigrate_up"],
        ["sqlmigrate_down", "--noinput", "--no-backup"],
        ["sqlmigrate_repair"],
    ],
    ids=["up", "down", "repair"],
)
def test_ctrl_c_while_waiting_for_the_lock_exits_130_with_one_line(
    one_applied_one_pending: TargetDatabase,
    migrations: MigrationFiles,
    command: list[str],
    request: pytest.FixtureRequest,
) -> None:
    target = one_applied_one_pending
    if command[0] == "sqlmigrate_repair":  # something for it to repair
        migrations.write("001_create_a.up.sql", "CREATE TABLE a (id integer PRIMARY KEY);\n-- x\n")
    history = target.query("SELECT version, checksum FROM schema_migrations")
    with lock_held(target):
        proc = start_command(target, migrations, *command, "--lock-timeout", "3")
        seen = wait_until_waiting(target, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        out = seen + out

    assert proc.returncode == 130, out + err
    assert "Traceback" not in err
    [line] = error_lines(err)
    assert line.startswith("CommandError: interrupted "), line
    assert line.endswith("nothing was changed."), line
    assert "Waiting for the migration lock held by pid" in out
    assert line == (
        "CommandError: interrupted while waiting for the migration lock; nothing was changed."
    )
    assert target.applied() == [1]
    assert target.user_tables() == {"a"}
    assert target.query("SELECT version, checksum FROM schema_migrations") == history


@pytest.mark.postgresql
def test_ctrl_c_pressed_again_during_clean_up_still_ends_with_one_line(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    with lock_held(postgres):
        proc = start_command(postgres, migrations, "sqlmigrate_up", "--lock-timeout", "30")
        wait_until_waiting(postgres, proc)
        # A user hammering Ctrl-C: every press until the process has ended.
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            proc.send_signal(signal.SIGINT)
            time.sleep(0.002)
        out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, out + err
    assert "Traceback" not in err
    assert error_lines(err) == [
        "CommandError: interrupted while waiting for the migration lock; nothing was changed."
    ]
    assert postgres.applied() == []


@pytest.mark.postgresql
def test_ctrl_c_pressed_again_inside_a_migration_keeps_its_message(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "first")
    migrations.pair(
        "002_slow", "CREATE TABLE slow (id integer);\nSELECT pg_sleep(30);\n", "DROP TABLE slow;"
    )
    proc = start_command(postgres, migrations, "sqlmigrate_up")
    wait_for_query(postgres, "pg_sleep(30)")
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.002)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, out + err
    assert "Traceback" not in err
    assert error_lines(err) == [
        "CommandError: interrupted during 002_slow, which was rolled back. "
        "Applied before the interruption: 001_create_first."
    ]
    assert postgres.applied() == [1]
    assert postgres.user_tables() == {"first"}


@pytest.mark.postgresql
def test_ctrl_c_at_verbosity_3_adds_the_traceback(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    with lock_held(postgres):
        proc = start_command(postgres, migrations, "sqlmigrate_up", "-v", "3")
        wait_until_waiting(postgres, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, out + err
    assert "Traceback" in err
    assert "KeyboardInterrupt" in err
    assert err.rstrip().endswith("nothing was changed.")


def test_ctrl_c_between_migrations_names_those_applied(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")
    # A receiver of migration_applied that takes its time after the first migration.
    (tmp_path / "slow_receiver_settings.py").write_text(
        "import time\n"
        "from tests.subprocess_settings import *  # noqa\n"
        "from sqlmigrations.signals import migration_applied\n"
        "def slow(sender, version, **kwargs):\n"
        "    print('receiver', version, flush=True)\n"
        "    time.sleep(60)\n"
        "migration_applied.connect(slow, weak=False)\n"
    )
    env = command_env(target.url, migrations)
    env.update(
        DJANGO_SETTINGS_MODULE="slow_receiver_settings",
        PYTHONPATH=f"{tmp_path}{os.pathsep}{REPO}",
    )
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "sqlmigrate_up", "--no-color"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    while not lines or lines[-1] != "receiver 1\n":
        lines.append(proc.stdout.readline())
        assert lines[-1], lines
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, out + err
    assert error_lines(err) == [
        "CommandError: interrupted between migrations; applied before the interruption: "
        "001_create_a; nothing more was changed."
    ]
    assert target.applied() == [1]
    assert target.user_tables() == {"a"}


# ---------------------------------------------------------------------------
# Ctrl-C during Django's start-up


@pytest.mark.parametrize("verbosity", ["1", "3"])
def test_ctrl_c_during_start_up_exits_130_with_one_line(tmp_path: Path, verbosity: str) -> None:
    # Settings that take a while to load, and say when they have started to.
    (tmp_path / "slow_settings.py").write_text(
        "import sys, time\n"
        "from backend.settings import *  # noqa\n"
        "print('loading settings', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_PATH")}
    env.update(
        DJANGO_SETTINGS_MODULE="slow_settings",
        PYTHONPATH=f"{tmp_path}{os.pathsep}{REPO}",
        DB_PATH=str(tmp_path / "db.sqlite3"),
    )
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "sqlmigrate_up", "-v", verbosity],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "loading settings\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, out + err
    assert error_lines(err)[-1] == "Interrupted during start-up; nothing was changed."
    if verbosity == "3":
        assert "Traceback" in err
    else:
        assert len(error_lines(err)) == 1, err
    assert not (tmp_path / "db.sqlite3").exists()


# ---------------------------------------------------------------------------
# Ctrl-C and Ctrl-D at the confirmation prompt of sqlmigrate_down


def down_on_a_terminal(
    target: TargetDatabase, migrations: MigrationFiles, keys: bytes
) -> tuple[int, str]:
    """Run sqlmigrate_down on a pseudo-terminal (its controlling terminal, so Ctrl-C
    there sends SIGINT as a real one does) and press ``keys`` at the prompt."""
    env = command_env(target.url, migrations)
    pid, master = pty.fork()
    if pid == 0:  # the child: exec at once, nothing of pytest may run here
        os.chdir(REPO)
        os.execve(
            sys.executable, [sys.executable, "manage.py", "sqlmigrate_down", "--no-color"], env
        )
    output = b""
    pressed = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child has closed the terminal
                break
            if not chunk:
                break
            output += chunk
        if not pressed and b"Type 'yes'" in output:
            time.sleep(0.2)  # let input() start reading
            os.write(master, keys)
            pressed = True
    os.close(master)
    _, status = os.waitpid(pid, 0)
    text = output.decode(errors="replace").replace("\r\n", "\n")
    return os.waitstatus_to_exitcode(status), text


@pytest.mark.parametrize(
    ("keys", "code", "message"),
    [
        (
            b"\x03",
            130,
            "CommandError: interrupted at the confirmation prompt; nothing was changed.",
        ),
        (
            b"\x04",
            2,
            "CommandError: no answer at the confirmation prompt (end of input): "
            "rollback cancelled; nothing was changed.",
        ),
    ],
    ids=["ctrl-c", "ctrl-d"],
)
def test_ctrl_c_or_ctrl_d_at_the_prompt_cancels_with_one_line(
    target: TargetDatabase,
    migrations: MigrationFiles,
    tmp_path: Path,
    keys: bytes,
    code: int,
    message: str,
) -> None:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0

    exit_code, out = down_on_a_terminal(target, migrations, keys)

    assert exit_code == code, out
    assert "Traceback" not in out
    assert out.rstrip().splitlines()[-1] == message
    assert target.applied() == [1]
    assert target.user_tables() == {"a"}
    # Nothing was written either: the backup comes after the answer.
    assert not any((tmp_path / "backups").glob("*"))


# ---------------------------------------------------------------------------
# Numeric options


BAD_VALUES = [
    ("sqlmigrate_up", "--lock-timeout", value)
    for value in ["nan", "NaN", "inf", "-inf", "1e400", "86401", "1e12", "", "abc", "-1", "0x10"]
] + [
    ("sqlmigrate_down", "--lock-timeout", "nan"),
    ("sqlmigrate_repair", "--lock-timeout", "inf"),
    ("sqlmigrate_up", "--target", "99999999999999999999"),
    ("sqlmigrate_up", "--target", "9223372036854775808"),
    ("sqlmigrate_up", "--target", ""),
    ("sqlmigrate_up", "--target", "-1"),
    ("sqlmigrate_down", "--target", "99999999999999999999"),
    ("sqlmigrate_down", "--target", "1.5"),
    ("sqlmigrate_down", "--steps", ""),
    ("sqlmigrate_down", "--steps", "0"),
    ("sqlmigrate_down", "--steps", "1e3"),
]


@pytest.mark.parametrize(("command", "option", "value"), BAD_VALUES)
def test_a_bad_numeric_option_is_one_line_and_exit_2(
    migrations: MigrationFiles, command: str, option: str, value: str
) -> None:
    migrations.table(1, "a")
    with pytest.raises(CommandError) as raised:
        call_command(command, f"{option}={value}", "--noinput" * (command == "sqlmigrate_down"))

    assert raised.value.returncode == 2
    assert str(raised.value).startswith(f"Error: argument {option}: ")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("command", "option", "value", "message"),
    [
        ("sqlmigrate_up", "--lock-timeout", "nan", "'nan' is not a number of seconds"),
        ("sqlmigrate_up", "--lock-timeout", "1e400", "must be at most 86400 (one day)"),
        ("sqlmigrate_repair", "--lock-timeout", "inf", "must be at most 86400 (one day)"),
        ("sqlmigrate_up", "--lock-timeout", "", "'' is not a number of seconds"),
        (
            "sqlmigrate_down",
            "--target",
            "99999999999999999999",
            "must be at most 9223372036854775807",
        ),
    ],
)
def test_a_bad_numeric_option_from_the_shell_exits_2(
    tmp_path: Path, migrations: MigrationFiles, command: str, option: str, value: str, message: str
) -> None:
    migrations.table(1, "a")
    db = tmp_path / "t.sqlite3"

    result = manage(
        command, option, value, database_url=f"sqlite:///{db}", migrations_dir=migrations.path
    )

    assert result.code == 2, result.output
    assert result.out == ""
    [line] = error_lines(result.err)
    assert line == f"manage.py {command}: error: argument {option}: {message} (see --help)"
    assert not db.exists()


def test_steps_beyond_any_number_of_migrations_is_one_line_and_exit_2(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0

    result = target.run("sqlmigrate_down", "--noinput", "--steps", "99999999999999999999")

    assert result.code == 2
    assert error_lines(result.err) == [
        "--steps 99999999999999999999 is more than the 1 applied migration"
    ]
    assert target.applied() == [1]


@pytest.mark.parametrize("value", ["0", "0.5", "86400", "1e-3"])
def test_lock_timeouts_within_bounds_are_accepted(
    target: TargetDatabase, migrations: MigrationFiles, value: str
) -> None:
    migrations.table(1, "a")

    result = target.run("sqlmigrate_up", "--lock-timeout", value)

    assert result.code == 0, result.output
    assert target.applied() == [1]


def test_an_invalid_lock_timeout_setting_is_exit_2(
    target: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    migrations.table(1, "a")
    settings.SQLMIGRATIONS_LOCK_TIMEOUT = float("nan")

    result = target.run("sqlmigrate_up")

    assert result.code == 2
    assert error_lines(result.err) == [
        "SQLMIGRATIONS_LOCK_TIMEOUT: 'nan' is not a number of seconds"
    ]
    assert target.applied() == []


# ---------------------------------------------------------------------------
# DATABASE_URL


@pytest.fixture
def fresh_project(tmp_path: Path) -> Path:
    """A copy of the project with no database, so that a created file would show."""
    return copy_project(tmp_path / "project")


BAD_URLS = [
    (f"postgres://user:{SECRET} x@127.0.0.1:notaport/db", "DATABASE_URL is not a valid URL"),
    (f"postgres://user:{SECRET}@127.0.0.1:99999/db", "DATABASE_URL is not a valid URL"),
    ("://", "DATABASE_URL is not a database URL"),
    ("foo", "DATABASE_URL is not a database URL"),
    (f"user:{SECRET}@127.0.0.1/db", "DATABASE_URL is not a database URL"),
    (f"mysql2://user:{SECRET}@127.0.0.1/db", "DATABASE_URL uses mysql2://, which this project"),
    (f"oracle://user:{SECRET}@127.0.0.1/db", "DATABASE_URL uses oracle://, which this project"),
    (f"redis://:{SECRET}@127.0.0.1:6379", "DATABASE_URL uses redis://, which this project"),
    (f"postgres://user:{SECRET}@127.0.0.1:5432", "DATABASE_URL names no database"),
    ("postgres://127.0.0.1/", "DATABASE_URL names no database"),
    ("", "DATABASE_URL is set but empty"),
    ("  ", "DATABASE_URL is set but empty"),
]


@pytest.mark.parametrize(("url", "message"), BAD_URLS)
def test_a_database_url_that_cannot_work_is_one_line_and_exit_2(
    fresh_project: Path, url: str, message: str
) -> None:
    result = manage("sqlmigrate_up", cwd=fresh_project, database_url=url)

    assert result.code == 2, result.output
    assert result.out == ""
    [line] = error_lines(result.err)
    assert line.startswith(f"ImproperlyConfigured: {message}"), line
    assert SECRET not in result.output
    assert not (fresh_project / "db.sqlite3").exists()


@pytest.mark.parametrize(
    "command", ["sqlmigrate_status", "sqlmigrate_down", "sqlmigrate_repair", "sqlmigrate_new"]
)
def test_every_command_refuses_a_bad_database_url_with_one_line(
    fresh_project: Path, command: str
) -> None:
    args = [command, "x"] if command == "sqlmigrate_new" else [command]
    files = fresh_project / "backend" / "db" / "migrations"
    before = sorted(files.iterdir())

    result = manage(*args, cwd=fresh_project, database_url=f"mysql2://u:{SECRET}@h/db")

    assert result.code == 2, result.output
    [line] = error_lines(result.err)
    assert line.startswith("ImproperlyConfigured: DATABASE_URL uses mysql2://"), line
    assert SECRET not in result.output
    assert sorted(files.iterdir()) == before  # sqlmigrate_new wrote no file


def test_an_empty_database_url_in_dotenv_is_refused_too(fresh_project: Path) -> None:
    (fresh_project / ".env").write_text("DATABASE_URL=\n")

    result = manage("sqlmigrate_up", cwd=fresh_project)

    assert result.code == 2, result.output
    assert error_lines(result.err)[0].startswith(
        "ImproperlyConfigured: DATABASE_URL is set but empty"
    )
    assert not (fresh_project / "db.sqlite3").exists()


@pytest.mark.postgresql
def test_a_database_that_does_not_exist_is_exit_1_with_one_line(
    migrations: MigrationFiles,
) -> None:
    require_postgres()
    migrations.table(1, "a")
    user = urlsplit(POSTGRES_URL).username or "postgres"
    url = with_login(postgres_url_for("sqlm_no_such_database"), f"{user}:{SECRET}")

    result = manage("sqlmigrate_up", database_url=url, migrations_dir=migrations.path)

    assert result.code == 1, result.output
    [line] = error_lines(result.err)
    assert line.startswith("CommandError: cannot connect to database 'default'"), line
    assert 'database "sqlm_no_such_database" does not exist' in line
    assert SECRET not in result.output


@pytest.fixture
def incomplete_alias(migrations: MigrationFiles, django_db_blocker: Any) -> Iterator[str]:
    """A database whose settings name no database: Django refuses at connection time."""
    migrations.table(1, "a")
    _register_alias("incomplete", f"postgres://postgres:{SECRET}@127.0.0.1:5432")
    try:
        with django_db_blocker.unblock():
            yield "incomplete"
    finally:
        _unregister_alias("incomplete")


@pytest.mark.parametrize("command", ["sqlmigrate_up", "sqlmigrate_status", "sqlmigrate_repair"])
def test_settings_django_refuses_at_connection_time_are_exit_2(
    incomplete_alias: str, command: str
) -> None:
    with pytest.raises(CommandError) as raised:
        call_command(command, "--database", incomplete_alias)

    assert raised.value.returncode == 2
    message = str(raised.value)
    assert message.startswith(
        "database 'incomplete' (postgresql postgres@127.0.0.1:5432/(no name)) is not "
        "configured completely: "
    ), message
    assert "\n" not in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "scheme",
    # Django reports a missing MySQL driver as ImproperlyConfigured, Oracle's as ImportError.
    ["mysql", "oracle"],
)
def test_a_database_backend_that_cannot_load_is_exit_2(
    migrations: MigrationFiles, scheme: str
) -> None:
    migrations.table(1, "a")
    _register_alias(scheme, f"{scheme}://u:{SECRET}@127.0.0.1/db")
    try:
        with pytest.raises(CommandError) as raised:
            call_command("sqlmigrate_status", "--database", scheme)
    finally:
        _unregister_alias(scheme)

    assert raised.value.returncode == 2
    message = str(raised.value)
    assert message.startswith(f"database '{scheme}' cannot be used: "), message
    assert "\n" not in message
    assert SECRET not in message


# ---------------------------------------------------------------------------
# Ctrl-C while connecting to a server that never answers


@pytest.fixture
def silent_server() -> Iterator[socket.socket]:
    """A listening socket that never says a word to whoever connects."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.settimeout(30)
        yield server


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("sqlmigrate_status", "interrupted; status only reads, nothing was changed."),
        ("sqlmigrate_up", "interrupted before any migration ran; nothing was changed."),
    ],
)
def test_ctrl_c_while_connecting_exits_130_with_one_line(
    migrations: MigrationFiles, silent_server: socket.socket, command: str, message: str
) -> None:
    migrations.table(1, "a")
    url = f"postgres://user:{SECRET}@127.0.0.1:{silent_server.getsockname()[1]}/app"
    proc = subprocess.Popen(
        [sys.executable, "manage.py", command],
        cwd=REPO,
        env=command_env(url, migrations),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client, _ = silent_server.accept()  # it is connecting, and waits for an answer
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    client.close()

    assert proc.returncode == 130, out + err
    assert error_lines(err) == [f"CommandError: {message}"]
    assert SECRET not in out + err


# ---------------------------------------------------------------------------
# No second copy of the error from Python's logging fallback


def test_a_failing_migration_prints_no_log_line_before_its_error(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.pair("002_bad", "SELECT no_such_column FROM a;\n", "SELECT 1;\n")

    result = manage("sqlmigrate_up", database_url=target.url, migrations_dir=migrations.path)

    assert result.code == 1
    assert result.err.startswith("CommandError: 002_bad.up.sql:1: "), result.err
    assert target.applied() == [1]


def test_repair_says_each_change_once(target: TargetDatabase, migrations: MigrationFiles) -> None:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0
    migrations.write("001_create_a.up.sql", "CREATE TABLE a (id integer PRIMARY KEY);\n-- x\n")

    result = manage("sqlmigrate_repair", database_url=target.url, migrations_dir=migrations.path)

    assert result.code == 0, result.output
    assert result.out.startswith("  Accepted the new content of 001_create_a")
    assert result.err == ""


# ---------------------------------------------------------------------------
# sqlmigrate_new


def test_new_refuses_a_version_beyond_the_history_column(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(2**63 - 1, "last")

    result = target.run("sqlmigrate_new", "one more")

    assert result.code == 2, result.output
    assert error_lines(result.err) == [
        "cannot number a new migration: 9223372036854775807_create_last already has the "
        "largest version a migration can have (9223372036854775807)"
    ]
    assert len(list(migrations.path.iterdir())) == 2


def test_new_on_an_unknown_database_is_one_line_and_exit_2(migrations: MigrationFiles) -> None:
    result = manage("sqlmigrate_new", "x", "--database", "reports", migrations_dir=migrations.path)

    assert result.code == 2, result.output
    assert error_lines(result.err) == [
        "CommandError: unknown database alias 'reports' (configured: default)"
    ]
    assert list(migrations.path.iterdir()) == []
