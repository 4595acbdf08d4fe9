"""Real ``manage.py`` processes: the set-up a newcomer runs, configuration, and failures."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import (
    MigrationFiles,
    TargetDatabase,
    copy_project,
    manage,
    start_runner,
    wait_for_query,
    with_login,
)


@pytest.fixture
def fresh_project(tmp_path: Path) -> Path:
    """A copy of the project as a clone has it, with no database and no .env."""
    return copy_project(tmp_path / "project")


def test_fresh_clone_runs_on_the_embedded_sqlite_file(fresh_project: Path) -> None:
    result = manage("sqlmigrate_up", cwd=fresh_project)

    assert result.code == 0, result.output
    assert "Applying 001_initial_schema... OK" in result.out
    assert (fresh_project / "db.sqlite3").exists()
    status = manage("sqlmigrate_status", cwd=fresh_project)
    assert status.code == 0
    assert f"Database: sqlite {fresh_project / 'db.sqlite3'}" in status.out
    assert "0 pending" in status.out


def test_db_path_moves_the_sqlite_file(fresh_project: Path, tmp_path: Path) -> None:
    db_path = tmp_path / "elsewhere.sqlite3"

    result = manage("sqlmigrate_up", cwd=fresh_project, env={"DB_PATH": str(db_path)})

    assert result.code == 0, result.output
    assert db_path.exists()
    assert not (fresh_project / "db.sqlite3").exists()


@pytest.mark.postgresql
def test_database_url_in_dotenv_selects_postgresql(
    fresh_project: Path, postgres: TargetDatabase
) -> None:
    (fresh_project / ".env").write_text(f"DATABASE_URL={postgres.url}\n")

    result = manage("sqlmigrate_up", cwd=fresh_project)

    assert result.code == 0, result.output
    assert not (fresh_project / "db.sqlite3").exists()
    assert postgres.applied()[0] == 1


def test_environment_wins_over_dotenv(fresh_project: Path, tmp_path: Path) -> None:
    (fresh_project / ".env").write_text("DATABASE_URL=postgres://nobody@127.0.0.1:1/none\n")
    url = f"sqlite:///{tmp_path / 'env.sqlite3'}"

    result = manage("sqlmigrate_up", cwd=fresh_project, database_url=url)

    assert result.code == 0, result.output
    assert (tmp_path / "env.sqlite3").exists()


def test_unreachable_database_exits_1_with_one_line_and_masked_password(
    migrations: MigrationFiles,
) -> None:
    migrations.table(1, "a")

    result = manage(
        "sqlmigrate_up",
        database_url="postgres://deploy:hunter2-secret@127.0.0.1:1/app",
        migrations_dir=migrations.path,
    )

    assert result.code == 1
    assert result.out == ""
    [line] = result.err.strip().splitlines()
    assert line.startswith(
        "CommandError: cannot connect to database 'default' (postgresql deploy@127.0.0.1:1/app): "
    )
    assert "hunter2-secret" not in result.output


@pytest.mark.postgresql
def test_bad_credentials_never_show_the_password(
    migrations: MigrationFiles, postgres: TargetDatabase
) -> None:
    migrations.table(1, "a")
    url = with_login(postgres.url, "no_such_role:hunter2-secret")

    for verbosity in ("1", "2", "3"):
        result = manage(
            "sqlmigrate_up", "-v", verbosity, database_url=url, migrations_dir=migrations.path
        )

        assert result.code == 1
        assert 'role "no_such_role" does not exist' in result.err
        assert "hunter2-secret" not in result.output
    assert postgres.applied() == []


@pytest.mark.postgresql
def test_password_is_not_printed_on_success(
    migrations: MigrationFiles, postgres: TargetDatabase
) -> None:
    migrations.table(1, "a")
    # Trust authentication accepts any password, so this one only has to stay hidden.
    user = urlsplit(postgres.url).username
    url = with_login(postgres.url, f"{user}:hunter2-secret")

    result = manage("sqlmigrate_up", "-v", "2", database_url=url, migrations_dir=migrations.path)
    status = manage("sqlmigrate_status", "--json", database_url=url, migrations_dir=migrations.path)

    assert result.code == 0, result.output
    assert f"Database: postgresql {user}@{urlsplit(url).hostname}:" in result.out
    assert "hunter2-secret" not in result.output + status.output


def test_traceback_only_at_verbosity_3(migrations: MigrationFiles) -> None:
    migrations.write("001_lonely.up.sql", "SELECT 1;")
    url = "sqlite:///" + str(migrations.path.parent / "t.sqlite3")

    quiet = manage("sqlmigrate_up", database_url=url, migrations_dir=migrations.path)
    loud = manage("sqlmigrate_up", "-v", "3", database_url=url, migrations_dir=migrations.path)

    assert quiet.code == loud.code == 2
    assert "Traceback" not in quiet.err
    assert "has no matching .down.sql file" in quiet.err
    assert "Traceback" in loud.err


def test_unknown_database_alias_exits_2(migrations: MigrationFiles) -> None:
    result = manage("sqlmigrate_status", "--database", "reports", migrations_dir=migrations.path)

    assert result.code == 2
    assert "unknown database alias 'reports' (configured: default)" in result.err


@pytest.mark.parametrize("command", ["sqlmigrate_up", "sqlmigrate_down", "sqlmigrate_status"])
def test_every_option_has_help(command: str) -> None:
    result = manage(command, "--help")

    assert result.code == 0
    for option in ("--database", "--no-color", "-v {0,1,2,3}"):
        assert option in result.out
    # argparse shows an option with no help text as a bare line; every one of ours has some.
    ours = {
        "sqlmigrate_up": ["--target", "--dry-run", "--lock-timeout"],
        "sqlmigrate_down": ["--steps", "--target", "--dry-run", "--noinput", "--lock-timeout"],
        "sqlmigrate_status": ["--json"],
    }[command]
    for option in ours:
        line = next(line for line in result.out.splitlines() if line.strip().startswith(option))
        assert len(line.split()) > 2 or "\n" in result.out, line


@pytest.mark.postgresql
def test_ctrl_c_rolls_back_the_migration_under_way(
    migrations: MigrationFiles, postgres: TargetDatabase
) -> None:
    migrations.table(1, "first")
    migrations.pair(
        "002_slow", "CREATE TABLE slow (id integer);\nSELECT pg_sleep(30);\n", "DROP TABLE slow;"
    )
    proc = start_runner(postgres, migrations)
    wait_for_query(postgres, "pg_sleep(30)")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, out + err
    assert "interrupted during 002_slow, which was rolled back" in err
    assert "Applied before the interruption: 001_create_first." in err
    assert "Traceback" not in err
    assert postgres.applied() == [1]
    assert postgres.user_tables() == {"first"}


def test_runserver_serves_the_demo_portfolio_after_set_up(fresh_project: Path) -> None:
    assert manage("sqlmigrate_up", cwd=fresh_project).code == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=fresh_project,
        # The README's local set-up: without DEBUG, runserver needs a secret key.
        env={**os.environ, "DJANGO_DEBUG": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = None
        deadline = time.monotonic() + 30
        while body is None and time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{port}/api/portfolios/demo-portfolio-1/"
                with urllib.request.urlopen(url, timeout=2) as response:
                    body = json.load(response)
            except OSError:
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5) as response:
            health = response.status
    finally:
        server.terminate()
        server.wait(timeout=10)

    assert body is not None and body["name"] == "Demo balanced portfolio"
    assert health == 200


def test_seed_demo_data_0_keeps_the_demo_out(fresh_project: Path) -> None:
    env = {"SEED_DEMO_DATA": "0"}

    result = manage("sqlmigrate_up", cwd=fresh_project, env=env)
    status = manage("sqlmigrate_status", cwd=fresh_project, env=env)

    assert result.code == 0, result.output
    assert "002_seed_demo_data" not in result.out
    assert re.search(
        r"^ \[-\] 002_seed_demo_data +skipped \(SQLMIGRATIONS_SKIP_VERSIONS\)$", status.out, re.M
    )
