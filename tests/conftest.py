"""Fixtures: a fresh real database per test (SQLite file or PostgreSQL), migration
files written per test, and helpers to run the commands in-process or as real
``manage.py`` processes."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import dj_database_url
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.test import override_settings

REPO = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "SQLMIGRATIONS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)
# CI sets this: a PostgreSQL test that cannot run must fail the run, not skip.
REQUIRE_POSTGRES = os.environ.get("SQLMIGRATIONS_REQUIRE_POSTGRES") == "1"

# The tests inspect PostgreSQL with the driver Django's backend takes: psycopg 3 when
# installed, else psycopg2 (CI runs the runner's tests under each). None: SQLite only.
try:
    import psycopg as pg_driver
except ImportError:
    try:
        import psycopg2 as pg_driver  # type: ignore[no-redef]
    except ImportError:
        pg_driver = None  # type: ignore[assignment]
PSYCOPG3 = pg_driver is not None and pg_driver.__name__ == "psycopg"


def sqlite_code(name: str) -> str:
    """How a SQLite error's name ends its message: sqlite3 has it since Python 3.11."""
    return f" ({name})" if sys.version_info >= (3, 11) else ""


def pg_connect(url: str, *, autocommit: bool = True, **kwargs: Any) -> Any:
    """A raw connection of the tests' own, with either driver."""
    if pg_driver is None:
        pytest.fail("neither psycopg nor psycopg2 is installed")
    if pg_driver.__name__ == "psycopg":
        return pg_driver.connect(url, autocommit=autocommit, **kwargs)
    conn = pg_driver.connect(url, **kwargs)
    conn.autocommit = autocommit
    return conn


@contextmanager
def pg_connection(url: str, *, autocommit: bool = True) -> Iterator[Any]:
    """pg_connect(), closed at the end (psycopg2's ``with conn`` does not close it)."""
    conn = pg_connect(url, autocommit=autocommit)
    try:
        yield conn
    finally:
        conn.close()


def pg_execute(conn: Any, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement on a raw connection; its rows, if it returns any."""
    with conn.cursor() as cursor:
        cursor.execute(sql, params or None)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


# ---------------------------------------------------------------------------
# PostgreSQL availability, and CI's rule that its tests never skip

_postgres_error: list[str] = []


def postgres_unavailable() -> str | None:
    if not _postgres_error:
        try:
            pg_connect(POSTGRES_URL, connect_timeout=3).close()
            _postgres_error.append("")
        except Exception as exc:  # the driver's error, or none installed
            _postgres_error.append(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    return _postgres_error[0] or None


def require_postgres() -> None:
    reason = postgres_unavailable()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(reason)
        pytest.skip(reason)


_skipped_postgres: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    # The tests press Ctrl-C in commands they start. A CI script's background job
    # starts with SIGINT ignored, which every child inherits and the runner then
    # keeps ignored (as under nohup): take it back, so children start as from a
    # terminal. (pytest-xdist's workers run this too.)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "postgres" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgresql)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and "postgresql" in report.keywords:
        _skipped_postgres.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if REQUIRE_POSTGRES and _skipped_postgres and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REQUIRE_POSTGRES and _skipped_postgres:
        terminalreporter.write_line(
            f"FAILED: {len(_skipped_postgres)} PostgreSQL test(s) were skipped, which "
            "SQLMIGRATIONS_REQUIRE_POSTGRES=1 forbids:",
            red=True,
        )
        for nodeid in _skipped_postgres:
            terminalreporter.write_line(f"  {nodeid}")


# ---------------------------------------------------------------------------
# The backend's migration files, as this repository ships them

BACKEND_MIGRATIONS = REPO / "backend" / "db" / "migrations"
# Tests about the backend's schema read these files only: a migration a developer adds
# to backend/db/migrations (sqlmigrate_new, as the README shows) must not change what
# the tests expect. A file added here is added to the tests' expectations too.
SHIPPED_BACKEND_MIGRATIONS = (
    "001_initial_schema.up.sql",
    "001_initial_schema.sqlite.up.sql",
    "001_initial_schema.down.sql",
    "002_seed_demo_data.up.sql",
    "002_seed_demo_data.down.sql",
    "003_portfolio_id_not_null.up.sql",
    "003_portfolio_id_not_null.down.sql",
    "003_portfolio_id_not_null.sqlite.up.sql",
    "003_portfolio_id_not_null.sqlite.down.sql",
)


def copy_backend_migrations(destination: Path) -> Path:
    """The shipped backend migrations, copied to ``destination`` (created)."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED_BACKEND_MIGRATIONS:
        shutil.copy2(BACKEND_MIGRATIONS / name, destination / name)
    return destination


def copy_project(destination: Path) -> Path:
    """manage.py and backend as a clone has them: no database, no .env, and only the
    shipped migration files."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "manage.py", destination)

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = {"__pycache__"} & set(names)
        if Path(directory).resolve() == BACKEND_MIGRATIONS.resolve():
            ignored |= set(names) - set(SHIPPED_BACKEND_MIGRATIONS)
        return ignored

    shutil.copytree(REPO / "backend", destination / "backend", ignore=ignore)
    return destination


@pytest.fixture(scope="session")
def backend_migrations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_backend_migrations(tmp_path_factory.mktemp("backend_migrations"))


@pytest.fixture(scope="session", autouse=True)
def pinned_backend_migrations(backend_migrations: Path) -> Iterator[None]:
    """The test database pytest-django builds, and any test that keeps the settings'
    directories, read the shipped files rather than backend/db/migrations itself (a
    run on other settings, such as tests/runner_cases' in a subprocess, keeps its own)."""
    from django.conf import settings

    configured = [Path(d).resolve() for d in getattr(settings, "SQLMIGRATIONS_DIRS", [])]
    if configured != [BACKEND_MIGRATIONS.resolve()]:
        yield
        return
    with override_settings(SQLMIGRATIONS_DIRS=[backend_migrations]):
        yield


# ---------------------------------------------------------------------------
# Migration files


def slow_statement(vendor: str, seconds: float) -> str:
    """A statement that keeps a migration busy, so concurrent or killed runs overlap it.

    SQLite has no sleep; a recursive count of 200,000 rows takes tens of milliseconds.
    """
    if vendor == "postgresql":
        return f"SELECT pg_sleep({seconds});"
    return (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)"
        " SELECT count(*) FROM c;"
    )


class MigrationFiles:
    """A directory of migration files that a test writes itself."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, text: str | bytes) -> Path:
        target = self.path / name
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")
        return target

    def pair(self, label: str, up: str, down: str) -> None:
        self.write(f"{label}.up.sql", up)
        self.write(f"{label}.down.sql", down)

    def table(self, version: int, table: str, width: int = 3) -> None:
        """A migration creating one small table, a common building block."""
        self.pair(
            f"{version:0{width}d}_create_{table}",
            f"CREATE TABLE {table} (id integer PRIMARY KEY);\n",
            f"DROP TABLE {table};\n",
        )


@pytest.fixture(autouse=True)
def backups_in_tmp(settings: Any, tmp_path: Path) -> Path:
    """Backups written by in-process commands land in the test's own directory."""
    settings.SQLMIGRATIONS_BACKUP_DIR = tmp_path / "backups"
    return tmp_path / "backups"


@pytest.fixture(autouse=True)
def no_lint_on_up(settings: Any) -> None:
    """sqlmigrate_up's lint warnings (squawk) are tested in test_lint_on_up.py; other
    tests' output and timings stay those of the runner alone."""
    settings.SQLMIGRATIONS_LINT_ON_UP = "off"


@pytest.fixture
def migrations(tmp_path: Path, settings: Any) -> MigrationFiles:
    files = MigrationFiles(tmp_path / "migrations")
    settings.SQLMIGRATIONS_DIRS = [files.path]
    settings.SQLMIGRATIONS_DATABASE_DIRS = {}
    return files


# ---------------------------------------------------------------------------
# Databases


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


@dataclass
class TargetDatabase:
    vendor: str
    alias: str
    url: str
    path: Path | None = None  # the SQLite file

    @property
    def name(self) -> str:
        return str(self.path) if self.path else self.url.rsplit("/", 1)[1]

    # Inspection goes through its own raw connection, independent of Django's.
    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.vendor == "sqlite":
            assert self.path is not None
            if not self.path.exists():
                raise AssertionError(f"SQLite file {self.path} does not exist")
            # Read-write, like any real client: after a kill -9 the file can have a
            # hot journal, which only a writable connection rolls back.
            with sqlite3.connect(self.path) as conn:
                rows = conn.execute(sql.replace("%s", "?"), params).fetchall()
            conn.close()
            return rows
        with pg_connection(self.url) as conn:
            return pg_execute(conn, sql, params)

    def tables(self) -> set[str]:
        if self.vendor == "sqlite":
            assert self.path is not None
            if not self.path.exists():
                return set()
            rows = self.query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        else:
            rows = self.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {row[0] for row in rows}

    def user_tables(self) -> set[str]:
        return self.tables() - {"schema_migrations", "django_migrations"}

    def applied(self) -> list[int]:
        if "schema_migrations" not in self.tables():
            return []
        return [
            row[0] for row in self.query("SELECT version FROM schema_migrations ORDER BY version")
        ]

    def execute(self, sql: str) -> None:
        """Change the database behind the runner's back (for drift and lock tests)."""
        if self.vendor == "sqlite":
            conn = sqlite3.connect(self.path)  # type: ignore[arg-type]
            conn.execute(sql)
            conn.commit()
            conn.close()
        else:
            with pg_connection(self.url) as conn:
                pg_execute(conn, sql)

    def run(self, command: str, *args: str) -> Result:
        """Run a management command in-process, as a fresh process would."""
        out, err = StringIO(), StringIO()
        try:
            call_command(
                command, *args, "--database", self.alias, "--no-color", stdout=out, stderr=err
            )
            code = 0
        except CommandError as exc:
            code = exc.returncode
            err.write(str(exc))
        finally:
            connections[self.alias].close()
        return Result(code, out.getvalue(), err.getvalue())


def _register_alias(alias: str, url: str) -> None:
    config = dj_database_url.parse(url)
    connections.settings[alias] = connections.configure_settings({"default": config})["default"]


def _unregister_alias(alias: str) -> None:
    if hasattr(connections._connections, alias):  # type: ignore[attr-defined]
        connections[alias].close()
        del connections[alias]
    connections.settings.pop(alias, None)


def create_postgres_database() -> str:
    name = f"sqlm_test_{uuid.uuid4().hex[:12]}"
    with pg_connection(POSTGRES_URL) as conn:
        pg_execute(conn, f'CREATE DATABASE "{name}"')
    return name


def drop_postgres_database(name: str) -> None:
    with pg_connection(POSTGRES_URL) as conn:
        pg_execute(conn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def with_login(url: str, login: str) -> str:
    """``url`` with its ``user[:password]`` replaced, whatever the test server's was."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{login}@{rest.rsplit('@', 1)[-1]}"


def postgres_url_for(name: str) -> str:
    base = dj_database_url.parse(POSTGRES_URL)
    user = base["USER"] or "postgres"
    password = f":{base['PASSWORD']}" if base.get("PASSWORD") else ""
    port = base["PORT"] or 5432
    return f"postgres://{user}{password}@{base['HOST'] or '127.0.0.1'}:{port}/{name}"


@pytest.fixture(
    params=[
        pytest.param("sqlite"),
        pytest.param("postgresql", marks=pytest.mark.postgresql),
    ]
)
def target(request: pytest.FixtureRequest, tmp_path: Path, django_db_blocker: Any):
    """A brand-new, empty database of each vendor, known to Django as alias 'target'."""
    vendor = request.param
    alias = "target"
    if vendor == "sqlite":
        path = tmp_path / "target.sqlite3"
        database = TargetDatabase(vendor, alias, f"sqlite:///{path}", path)
        cleanup = lambda: None  # noqa: E731
    else:
        require_postgres()
        name = create_postgres_database()
        database = TargetDatabase(vendor, alias, postgres_url_for(name))
        cleanup = lambda: drop_postgres_database(name)  # noqa: E731
    _register_alias(alias, database.url)
    try:
        with django_db_blocker.unblock():
            yield database
    finally:
        _unregister_alias(alias)
        cleanup()


@pytest.fixture
def postgres(request: pytest.FixtureRequest, django_db_blocker: Any):
    """A PostgreSQL-only target, for behaviour only PostgreSQL has."""
    require_postgres()
    name = create_postgres_database()
    database = TargetDatabase("postgresql", "target", postgres_url_for(name))
    _register_alias("target", database.url)
    try:
        with django_db_blocker.unblock():
            yield database
    finally:
        _unregister_alias("target")
        drop_postgres_database(name)


def manage(*args: str, **kwargs: Any) -> Result:
    """Run a real ``python manage.py`` process, as a user or a deploy script would."""
    return run_python("manage.py", *args, **kwargs)


def run_python(
    *args: str,
    database_url: str | None = None,
    migrations_dir: Path | None = None,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
    stdin: Any = subprocess.DEVNULL,
    timeout: float = 60,
) -> Result:
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DB_PATH"))
    }
    full_env.pop("DJANGO_SETTINGS_MODULE", None)
    if migrations_dir is not None:
        full_env["DJANGO_SETTINGS_MODULE"] = "tests.subprocess_settings"
        full_env["SQLMIGRATIONS_TEST_DIRS"] = str(migrations_dir)
        full_env["PYTHONPATH"] = str(REPO)
    if database_url is not None:
        full_env["DATABASE_URL"] = database_url
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=full_env,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def start_runner(
    target: TargetDatabase, migrations: MigrationFiles, *args: str
) -> subprocess.Popen[str]:
    """Start ``manage.py sqlmigrate_up`` as a separate process (not waited for)."""
    return start_command(target, migrations, "sqlmigrate_up", *args)


def start_command(
    target: TargetDatabase, migrations: MigrationFiles, command: str, *args: str
) -> subprocess.Popen[str]:
    """Start ``manage.py COMMAND`` as a separate process (not waited for)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tests.subprocess_settings",
        "SQLMIGRATIONS_TEST_DIRS": str(migrations.path),
        "DATABASE_URL": target.url,
        "PYTHONPATH": str(REPO),
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", command, "--no-color", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_query(database: TargetDatabase, text: str, *, terminate: bool = False) -> None:
    """Wait until another session runs a query containing ``text``; optionally end it.

    A migration's whole message shows as its query from the start: when ``text`` is a
    pg_sleep, wait until the session really sleeps, past the statements before it."""
    action = "pg_terminate_backend(pid)" if terminate else "pid"
    sleeping = " AND wait_event = 'PgSleep'" if "pg_sleep" in text else ""
    deadline = time.monotonic() + 30
    while not database.query(
        f"SELECT {action} FROM pg_stat_activity WHERE datname = current_database() "
        f"AND pid <> pg_backend_pid() AND query LIKE %s{sleeping}",
        (f"%{text}%",),
    ):
        assert time.monotonic() < deadline, f"no session ever ran {text}"
        time.sleep(0.02)


# ---------------------------------------------------------------------------
# sqlmigrate_lint's tests (test_lint*.py use these with usefixtures("lint_settings"))


@pytest.fixture
def lint_settings(settings: Any) -> None:
    """The backend's own SQLMIGRATIONS_LINT_EXCLUDE would hide rules tested here; a
    statement timeout set by the runner keeps squawk's statement-timeout rule (tested
    on its own) out of the other findings."""
    settings.SQLMIGRATIONS_LINT_EXCLUDE = {}
    settings.SQLMIGRATIONS_STATEMENT_TIMEOUT = 60


@pytest.fixture
def with_table(postgres: TargetDatabase, migrations: MigrationFiles) -> TargetDatabase:
    """Table t, applied: later files change an existing table, as squawk's rules expect."""
    migrations.pair("001_t", "CREATE TABLE t (id bigint PRIMARY KEY, a text);", "DROP TABLE t;")
    assert postgres.run("sqlmigrate_up").code == 0
    return postgres


def lint(database: TargetDatabase, *args: str) -> Result:
    return database.run("sqlmigrate_lint", *args)
