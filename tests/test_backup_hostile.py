"""Backups under hostile conditions: the runner's exact connection, bounded waits,
Ctrl-C, failures and odd paths; no incomplete file ever looks like a backup."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connections

from tests.conftest import (
    POSTGRES_URL,
    REPO,
    MigrationFiles,
    TargetDatabase,
    _register_alias,
    _unregister_alias,
    drop_postgres_database,
    pg_connect,
    pg_connection,
    pg_execute,
    postgres_url_for,
    wait_for_query,
)

PASSWORD = "Qz7-backup-secret"


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


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def assert_one_line(err: str) -> None:
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


# ---------------------------------------------------------------------------
# A password-checking proxy in front of the test server (which trusts everyone):
# it makes a real libpq client prove it sends the runner's password, and records
# every connection's startup parameters and the pg_dump command lines running then.

_UPSTREAM = urlsplit(POSTGRES_URL)
UPSTREAM = (_UPSTREAM.hostname or "127.0.0.1", _UPSTREAM.port or 5432)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def pg_dump_command_lines() -> list[str]:
    lines = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"pg_dump":
            lines.append(b" ".join(argv).decode(errors="replace"))
    return lines


class PasswordProxy:
    def __init__(
        self,
        password: str,
        *,
        hang_from_connection: int | None = None,
        password_from_connection: int = 1,
    ):
        self.password = password
        self.hang_from = hang_from_connection
        self.password_from = password_from_connection
        self.startups: list[dict[str, str]] = []
        self.passwords: list[str] = []
        self.pg_dump_argv: list[str] = []
        self.release = threading.Event()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, contextlib.suppress(ConnectionError, OSError):
            self._handshake(client)

    def _handshake(self, client: socket.socket) -> None:
        while True:
            length, code = struct.unpack("!ii", _recv_exact(client, 8))
            body = _recv_exact(client, length - 8)
            if code in (80877103, 80877104):  # SSL or GSS encryption request: no
                client.sendall(b"N")
                continue
            break
        startup = struct.pack("!ii", length, code) + body
        if code == 80877102:  # a cancel request goes to the real server as it is
            with socket.create_connection(UPSTREAM) as upstream:
                upstream.sendall(startup)
            return
        fields = body.split(b"\0")
        params = {fields[i].decode(): fields[i + 1].decode() for i in range(0, len(fields) - 2, 2)}
        self.startups.append(params)
        self.pg_dump_argv += pg_dump_command_lines()
        if self.hang_from is not None and len(self.startups) >= self.hang_from:
            self.release.wait(60)  # accept, then never answer
            return
        if len(self.startups) >= self.password_from:
            client.sendall(b"R" + struct.pack("!ii", 8, 3))  # cleartext password, please
            if _recv_exact(client, 1) != b"p":
                return
            (size,) = struct.unpack("!i", _recv_exact(client, 4))
            password = _recv_exact(client, size - 4).rstrip(b"\0").decode()
            self.passwords.append(password)
            if password != self.password:
                message = b"SFATAL\0C28P01\0Mpassword authentication failed (proxy)\0\0"
                client.sendall(b"E" + struct.pack("!i", len(message) + 4) + message)
                return
        upstream = socket.create_connection(UPSTREAM)
        upstream.sendall(startup)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxied(postgres: TargetDatabase, migrations: MigrationFiles) -> Iterator[Any]:
    """``postgres`` with data, then reached only through a PasswordProxy."""
    migrations.pair(
        "001_accounts",
        "CREATE TABLE accounts (id integer PRIMARY KEY, owner text);\n"
        "INSERT INTO accounts VALUES (1, 'ada');\n",
        "DROP TABLE accounts;\n",
    )
    assert postgres.run("sqlmigrate_up").code == 0
    proxies: list[PasswordProxy] = []

    def through_proxy(
        query: str, *, userinfo: str = "postgres", **kwargs: Any
    ) -> tuple[TargetDatabase, PasswordProxy]:
        proxy = PasswordProxy(PASSWORD, **kwargs)
        proxies.append(proxy)
        url = f"postgres://{userinfo}@127.0.0.1:{proxy.port}/{postgres.name}?{query}"
        _unregister_alias("target")  # drop the connection made to the server directly
        _register_alias("target", url)
        return TargetDatabase("postgresql", "target", url), proxy

    yield through_proxy
    for proxy in proxies:
        proxy.close()


def runner_env(database: TargetDatabase, migrations: MigrationFiles) -> dict[str, str]:
    """A real manage.py process on ``database``; its backups go next to ``migrations``."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PG"))},
        "DJANGO_SETTINGS_MODULE": "tests.subprocess_settings",
        "SQLMIGRATIONS_TEST_DIRS": str(migrations.path),
        "DATABASE_URL": database.url,
        "PYTHONPATH": str(REPO),
    }


# ---------------------------------------------------------------------------
# 1. pg_dump connects exactly as the runner does


@pytest.mark.parametrize("password_in", ["query", "userinfo"])
def test_pg_dump_gets_every_connection_option_and_the_password_from_the_url(
    proxied: Any, postgres: TargetDatabase, backups_in_tmp: Path, password_in: str
) -> None:
    # dj-database-url puts a query-string password in OPTIONS, a user:password@ one
    # in PASSWORD: the runner uses either, and so must pg_dump.
    query = "sslmode=disable&application_name=sqlm-backup-check"
    query += "&options=-c%20work_mem%3D5MB&connect_timeout=7"
    if password_in == "query":
        database, proxy = proxied(f"password={PASSWORD}&{query}")
    else:
        database, proxy = proxied(query, userinfo=f"postgres:{PASSWORD}")

    result = database.run("sqlmigrate_down", "--noinput")

    assert result.code == 0, result.output
    assert PASSWORD not in result.output
    # The runner and pg_dump both went through the proxy, with the same settings.
    assert len(proxy.startups) >= 2
    assert proxy.passwords == [PASSWORD] * len(proxy.startups)
    seen = {
        (s.get("user"), s.get("database"), s.get("application_name"), s.get("options"))
        for s in proxy.startups
    }
    assert seen == {("postgres", postgres.name, "sqlm-backup-check", "-c work_mem=5MB")}
    # The password never appeared on pg_dump's command line (visible to every user).
    ours = [line for line in proxy.pg_dump_argv if postgres.name in line]
    assert ours
    assert not [line for line in ours if PASSWORD in line]
    [backup] = backups_in_tmp.iterdir()
    listing = subprocess.run(["pg_restore", "--list", str(backup)], capture_output=True, text=True)
    assert "TABLE DATA public accounts" in listing.stdout


def test_pg_dump_never_prompts_for_a_password(
    proxied: Any, postgres: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    # The runner gets in without a password; pg_dump is then asked for one it does
    # not have. With no terminal it would read the password from stdin, which a
    # deploy script may hold open: it must fail at once instead of waiting there.
    database, _ = proxied("sslmode=disable", password_from_connection=2)
    backups = migrations.path.parent / "backups"
    err_file = tmp_path / "stderr"
    with err_file.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "sqlmigrate_down", "--noinput", "--no-color"],
            cwd=REPO,
            env=runner_env(database, migrations),
            stdin=subprocess.PIPE,  # open, and never written to
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # no controlling terminal, as under a deploy tool
        )
        try:
            code = proc.wait(timeout=30)
        finally:
            proc.kill()
            proc.wait()
            assert proc.stdin is not None
            proc.stdin.close()
    message = err_file.read_text()

    assert code == 1, message
    assert_one_line(message)
    assert "pg_dump failed" in message and "no password supplied" in message
    assert "Password:" not in message
    assert postgres.applied() == [1]
    assert files_in(backups) == []


def test_assume_role_makes_pg_dump_run_as_that_role(
    proxied: Any, postgres: TargetDatabase, backups_in_tmp: Path
) -> None:
    # A table the runner's role may not read: a backup taken as that role cannot
    # be complete, so it must fail rather than quietly run as the login user.
    role = f"r_{postgres.name}"
    postgres.execute(f"CREATE ROLE {role} NOLOGIN")
    try:
        postgres.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        postgres.execute(f"GRANT ALL ON SCHEMA public TO {role}")
        postgres.execute("CREATE TABLE secrets (id integer)")
        database, _ = proxied(f"password={PASSWORD}&assume_role={role}")

        result = database.run("sqlmigrate_down", "--noinput")

        assert result.code == 1, result.output
        assert "permission denied for table secrets" in result.err
        assert_one_line(result.err)
        assert postgres.applied() == [1]
    finally:
        postgres.execute(f"DROP OWNED BY {role}")
        postgres.execute(f"DROP ROLE {role}")


def test_a_database_name_that_reads_as_a_connection_string(
    migrations: MigrationFiles, backups_in_tmp: Path, django_db_blocker: Any
) -> None:
    # Passed alone as --dbname, "x=y" is parsed as a libpq connection string.
    name = f"sqlm test={uuid.uuid4().hex[:8]}"
    with pg_connection(POSTGRES_URL) as conn:
        pg_execute(conn, f'CREATE DATABASE "{name}"')
    try:
        url = postgres_url_for(name.replace(" ", "%20").replace("=", "%3D"))
        _register_alias("target", url)
        database = TargetDatabase("postgresql", "target", url)
        migrations.table(1, "a")
        with django_db_blocker.unblock():
            assert database.run("sqlmigrate_up").code == 0
            result = database.run("sqlmigrate_down", "--noinput")

        assert result.code == 0, result.output
        [backup] = backups_in_tmp.iterdir()
        assert backup.name.endswith("-before-down.dump")
    finally:
        _unregister_alias("target")
        drop_postgres_database(name)


# ---------------------------------------------------------------------------
# 2. Bounded waits: a locked table, a server that never answers


@pytest.fixture
def locked_accounts(with_data: TargetDatabase) -> Iterator[Any]:
    """Another session holding ACCESS EXCLUSIVE on accounts (released after 40 s at most)."""
    blocker = pg_connect(with_data.url, autocommit=False)
    pg_execute(blocker, "LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
    timer = threading.Timer(40, blocker.close)
    timer.start()
    try:
        yield blocker
    finally:
        timer.cancel()
        blocker.close()


@pytest.mark.parametrize("target", ["postgresql"], indirect=True)
def test_a_locked_table_fails_the_backup_within_its_lock_timeout(
    with_data: TargetDatabase,
    locked_accounts: Any,
    backups_in_tmp: Path,
    settings: Any,
) -> None:
    settings.SQLMIGRATIONS_BACKUP_LOCK_TIMEOUT = 1
    started = time.monotonic()

    result = with_data.run("sqlmigrate_down", "--noinput")

    assert time.monotonic() - started < 20
    assert result.code == 1, result.output
    assert_one_line(result.err)
    assert "could not lock table public.accounts within 1s" in result.err
    assert "nothing was run" in result.err
    assert files_in(backups_in_tmp) == []
    locked_accounts.close()
    assert with_data.applied() == [1]
    assert "accounts" in with_data.user_tables()


def test_pg_dump_gives_up_on_a_server_that_never_answers(
    proxied: Any, postgres: TargetDatabase, backups_in_tmp: Path
) -> None:
    # The runner's own connection (the first) is served; pg_dump's is accepted and
    # never answered. Without a connect timeout pg_dump would wait for ever.
    database, _ = proxied(f"password={PASSWORD}", hang_from_connection=2)
    started = time.monotonic()

    result = database.run("sqlmigrate_down", "--noinput")

    assert time.monotonic() - started < 30
    assert result.code == 1, result.output
    assert "pg_dump failed" in result.err and "timeout" in result.err
    assert postgres.applied() == [1]
    assert files_in(backups_in_tmp) == []


# ---------------------------------------------------------------------------
# 3. Ctrl-C during the backup


def start_down(database: TargetDatabase, migrations: MigrationFiles) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "sqlmigrate_down", "--noinput", "--no-color"],
        cwd=REPO,
        env=runner_env(database, migrations),
        start_new_session=True,  # its own process group, as a command run in a terminal
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("target", ["postgresql"], indirect=True)
@pytest.mark.parametrize("to_group", [False, True], ids=["runner", "terminal"])
def test_ctrl_c_while_pg_dump_runs(
    with_data: TargetDatabase, migrations: MigrationFiles, locked_accounts: Any, to_group: bool
) -> None:
    # "terminal": Ctrl-C in a terminal signals the whole process group, pg_dump too.
    backups = migrations.path.parent / "backups"  # tests.subprocess_settings puts them there
    proc = start_down(with_data, migrations)
    try:
        wait_for_query(with_data, "LOCK TABLE public.accounts")
        # While pg_dump works, only a file that says it is incomplete exists.
        [partial] = files_in(backups)
        assert partial.endswith(".partial")
        pg_dumps = children_of(proc.pid)
        assert pg_dumps
        if to_group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()

    assert proc.returncode == 130, out + err
    assert "interrupted during the backup; nothing was run" in err
    assert_one_line(err)
    assert files_in(backups) == []
    assert not [pid for pid in pg_dumps if is_running(pid)]
    locked_accounts.close()
    assert with_data.applied() == [1]
    assert "accounts" in with_data.user_tables()


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_ctrl_c_while_sqlite_copies(with_data: TargetDatabase, migrations: MigrationFiles) -> None:
    with sqlite3.connect(with_data.path) as conn:  # type: ignore[arg-type]
        conn.execute("CREATE TABLE big (b blob)")
        conn.execute(
            "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 25000)"
            " INSERT INTO big SELECT randomblob(8000) FROM r"
        )
    conn.close()
    backups = migrations.path.parent / "backups"
    proc = start_down(with_data, migrations)
    try:
        deadline = time.monotonic() + 30
        while not files_in(backups):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.001)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()

    assert proc.returncode == 130, out + err
    assert "interrupted during the backup; nothing was run" in err
    assert_one_line(err)
    assert files_in(backups) == []
    assert with_data.applied() == [1]


# ---------------------------------------------------------------------------
# 4. SQLite: a consistent copy while another connection writes


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_sqlite_backup_while_another_connection_writes(
    with_data: TargetDatabase, backups_in_tmp: Path, journal_mode: str
) -> None:
    with sqlite3.connect(with_data.path) as conn:  # type: ignore[arg-type]
        conn.execute(f"PRAGMA journal_mode = {journal_mode}")
        conn.execute("CREATE TABLE big (b blob)")
        conn.execute("CREATE TABLE ticks (n integer)")
        conn.execute(
            "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 6000)"
            " INSERT INTO big SELECT randomblob(8000) FROM r"
        )
    conn.close()
    stop = threading.Event()
    commits = [0]

    def write() -> None:
        # Commits of 100 rows each: a consistent copy holds a multiple of 100.
        writer = sqlite3.connect(with_data.path, timeout=30)  # type: ignore[arg-type]
        while not stop.is_set():
            with writer:
                writer.executemany("INSERT INTO ticks VALUES (?)", [(i,) for i in range(100)])
            commits[0] += 1
        writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    try:
        while commits[0] < 3:
            time.sleep(0.01)
        result = with_data.run("sqlmigrate_down", "--noinput")
    finally:
        stop.set()
        thread.join()

    assert result.code == 0, result.output
    [backup] = [p for p in backups_in_tmp.iterdir() if p.suffix == ".sqlite3"]
    assert files_in(backups_in_tmp) == [backup.name]
    with sqlite3.connect(backup) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (ticks,) = copy.execute("SELECT count(*) FROM ticks").fetchone()
        assert ticks % 100 == 0 and ticks >= 300
        assert copy.execute("SELECT count(*) FROM big").fetchone() == (6000,)
    copy.close()


# ---------------------------------------------------------------------------
# Neighbours: a full disk, an unwritable directory, a path with spaces


def test_a_full_disk_leaves_no_backup_and_runs_nothing(
    with_data: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    # Enough data that the backup cannot fit under a 200 kB file size limit.
    with_data.execute(
        "INSERT INTO accounts SELECT 100 + x, 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' "
        "FROM (WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 20000) "
        "SELECT x FROM r) AS r"
        if with_data.vendor == "sqlite"
        else "INSERT INTO accounts SELECT 100 + x, md5(x::text) || md5((x * 7)::text) "
        "FROM generate_series(1, 20000) AS x"
    )
    backups = tmp_path / "backups"
    proc = subprocess.run(
        [
            *("bash", "-c", 'ulimit -f 400 && exec "$@"', "bash", sys.executable, "manage.py"),
            *("sqlmigrate_down", "--noinput", "--backup-dir", str(backups)),
        ],
        cwd=REPO,
        env=runner_env(with_data, migrations),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert_one_line(proc.stderr)
    assert "nothing was run" in proc.stderr
    if with_data.vendor == "postgresql":
        assert "pg_dump was killed by SIGXFSZ (file size limit exceeded)" in proc.stderr
    else:
        assert "SQLite backup failed, so nothing was run: disk I/O error" in proc.stderr
    assert files_in(backups) == []
    assert with_data.applied() == [1]


def test_an_unwritable_backup_directory(with_data: TargetDatabase) -> None:
    # Root may write anywhere on disk; /proc refuses even root.
    result = with_data.run("sqlmigrate_down", "--noinput", "--backup-dir", "/proc/self")

    assert result.code == 1, result.output
    assert_one_line(result.err)
    assert "cannot write a backup in /proc/self" in result.err
    assert "nothing was run" in result.err
    assert with_data.applied() == [1]


def test_a_backup_directory_with_spaces(with_data: TargetDatabase, tmp_path: Path) -> None:
    directory = tmp_path / "my backups" / "before down"

    result = with_data.run("sqlmigrate_down", "--noinput", "--backup-dir", str(directory))

    assert result.code == 0, result.output
    [backup] = directory.iterdir()
    assert f"Backup written to {backup}" in result.out
    # Backups hold every row of the database: only their owner may read them.
    assert backup.stat().st_mode & 0o077 == 0


def test_a_secret_with_no_safe_way_to_pg_dump_is_refused(
    postgres: TargetDatabase, migrations: MigrationFiles, backups_in_tmp: Path
) -> None:
    # libpq has no environment variable for sslpassword: on pg_dump's command line
    # every local user would see it. (Unused here: the connection is not SSL.)
    migrations.table(1, "a")
    assert postgres.run("sqlmigrate_up").code == 0
    _unregister_alias("target")
    url = f"{postgres.url}?sslmode=disable&sslpassword=Zk9-key-secret"
    _register_alias("target", url)

    result = TargetDatabase("postgresql", "target", url).run("sqlmigrate_down", "--noinput")

    assert result.code == 1, result.output
    assert_one_line(result.err)
    assert "pg_dump cannot be given sslpassword" in result.err
    assert "Zk9-key-secret" not in result.output
    assert postgres.applied() == [1]
    assert files_in(backups_in_tmp) == []


@pytest.mark.parametrize("value", ["soon", float("inf"), -1])
def test_a_bad_backup_lock_timeout_is_refused(
    postgres: TargetDatabase,
    migrations: MigrationFiles,
    backups_in_tmp: Path,
    settings: Any,
    value: Any,
) -> None:
    migrations.table(1, "a")
    assert postgres.run("sqlmigrate_up").code == 0
    settings.SQLMIGRATIONS_BACKUP_LOCK_TIMEOUT = value

    result = postgres.run("sqlmigrate_down", "--noinput")

    assert result.code == 2, result.output
    assert "SQLMIGRATIONS_BACKUP_LOCK_TIMEOUT must be a number of seconds" in result.err
    assert postgres.applied() == [1]
    assert files_in(backups_in_tmp) == []


def test_a_connection_through_a_service_file(
    postgres: TargetDatabase,
    migrations: MigrationFiles,
    backups_in_tmp: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Django accepts OPTIONS["service"] with no NAME; a pg_dump given only the empty
    # NAME would back up whatever database libpq defaults to.
    migrations.table(1, "only_here")
    assert postgres.run("sqlmigrate_up").code == 0
    service_file = tmp_path / "pg_service.conf"
    service_file.write_text(
        f"[sqlm_backup_test]\nhost={UPSTREAM[0]}\nport={UPSTREAM[1]}\n"
        f"dbname={postgres.name}\nuser=postgres\n"
    )
    monkeypatch.setenv("PGSERVICEFILE", str(service_file))
    _unregister_alias("target")
    connections.settings["target"] = connections.configure_settings(
        {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": "",
                "OPTIONS": {"service": "sqlm_backup_test"},
            }
        }
    )["default"]

    result = TargetDatabase("postgresql", "target", postgres.url).run(
        "sqlmigrate_down", "--noinput"
    )

    assert result.code == 0, result.output
    [backup] = backups_in_tmp.iterdir()
    assert backup.name.startswith("sqlm_backup_test-")
    listing = subprocess.run(["pg_restore", "--list", str(backup)], capture_output=True, text=True)
    assert "TABLE DATA public only_here" in listing.stdout
