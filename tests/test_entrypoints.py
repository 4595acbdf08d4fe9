"""Django's own entry points and conventions: --version, options, check, runserver, admin."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

import sqlmigrations
from tests.conftest import REPO, MigrationFiles, TargetDatabase, copy_project, run_python

# A subprocess on the project's own settings must not find a database of this checkout's.
NO_DATABASE = {"DB_PATH": "/nonexistent/never-created.sqlite3"}


def test_version_option_prints_the_apps_version(migrations: MigrationFiles) -> None:
    result = run_python(
        "manage.py", "sqlmigrate_status", "--version", migrations_dir=migrations.path
    )

    assert result.code == 0, result.output
    assert result.out.strip() == sqlmigrations.__version__
    assert sqlmigrations.__version__[0].isdigit()


def test_the_version_is_written_once_and_the_changelog_names_it() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert 'attr = "sqlmigrations.__version__"' in pyproject
    assert f"## {sqlmigrations.__version__}" in (REPO / "CHANGELOG.md").read_text()


def test_down_accepts_backup_as_its_own_option(
    target: TargetDatabase, migrations: MigrationFiles, backups_in_tmp: Path
) -> None:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0

    result = target.run("sqlmigrate_down", "--noinput", "--backup")

    assert result.code == 0, result.output
    assert "Backup written to" in result.out
    assert len(list(backups_in_tmp.iterdir())) == 1
    assert target.applied() == []


def test_down_refuses_backup_with_no_backup(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0

    result = target.run("sqlmigrate_down", "--noinput", "--backup", "--no-backup")

    assert result.code == 2
    assert "not allowed with argument" in result.err
    assert target.applied() == [1]


@pytest.mark.parametrize(
    "command, abbreviation",
    [
        ("sqlmigrate_up", "--lock-time=5"),
        ("sqlmigrate_up", "--allow-out"),
        ("sqlmigrate_down", "--backup-d=x"),
        ("sqlmigrate_status", "--js"),
        ("sqlmigrate_repair", "--dry"),
    ],
)
def test_no_command_takes_an_abbreviated_option(
    migrations: MigrationFiles, command: str, abbreviation: str
) -> None:
    migrations.table(1, "a")

    result = run_python("manage.py", command, abbreviation, migrations_dir=migrations.path)

    assert result.code == 2, result.output
    assert f"unrecognized arguments: {abbreviation}" in result.err
    assert len(result.err.strip().splitlines()) == 1


@pytest.mark.django_db
def test_admin_shows_the_history_read_only(admin_client: Any) -> None:
    from django.utils import timezone

    from sqlmigrations.models import SchemaMigration

    SchemaMigration.objects.create(
        version=9001,
        name="9001_half_done",
        checksum="0" * 64,
        applied_at=timezone.now(),
        execution_ms=1234,
        dirty=True,
    )
    base = "/admin/sqlmigrations/schemamigration/"

    listing = admin_client.get(base)

    assert listing.status_code == 200
    page = listing.content.decode()
    for column in ("Version", "Name", "Applied at", "Duration", "State"):
        assert column in page
    assert "001_initial_schema" in page
    assert "9001_half_done" in page and "1234 ms" in page
    assert "failed, may be partly applied" in page
    assert f'href="{base}add/"' not in page
    assert admin_client.get(f"{base}add/").status_code == 403
    detail = admin_client.get(f"{base}9001/change/")
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert admin_client.post(f"{base}9001/change/", {"name": "x"}).status_code == 403
    assert admin_client.post(f"{base}9001/delete/", {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": ["9001"], "post": "yes"}
    admin_client.post(base, bulk)
    assert SchemaMigration.objects.get(version=9001).name == "9001_half_done"


# Django 6.1's model checks ask SQLite whether it supports JSONField (a query).
@pytest.mark.django_db
@pytest.mark.parametrize(
    "per_alias, setting",
    [
        (False, "SQLMIGRATIONS_DIRS"),
        (True, "SQLMIGRATIONS_DATABASE_DIRS['default']"),
    ],
)
def test_check_names_the_setting_of_a_missing_directory_and_the_fix(
    tmp_path: Path, settings: Any, per_alias: bool, setting: str
) -> None:
    missing = tmp_path / "db" / "migrations"
    if per_alias:
        settings.SQLMIGRATIONS_DATABASE_DIRS = {"default": [missing]}
    else:
        settings.SQLMIGRATIONS_DIRS = [missing]
        settings.SQLMIGRATIONS_DATABASE_DIRS = {}

    with pytest.raises(SystemCheckError) as raised:
        call_command("check")

    message = str(raised.value)
    assert f"migrations directory {missing} does not exist (named by {setting})" in message
    assert 'python manage.py sqlmigrate_new "first migration"' in message
    assert f"or correct {setting} in your settings" in message


def test_a_migration_added_to_the_backend_does_not_break_the_tests(tmp_path: Path) -> None:
    """The README's `sqlmigrate_new`, then the tests that read the backend's files: one
    of each kind (the pytest-django test database, a copy of the project, a copy of the
    files, a direct read) passes in a checkout with an extra migration."""
    checkout = copy_project(tmp_path / "checkout")
    for name in ("sqlmigrations", "tests"):
        shutil.copytree(REPO / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", checkout)
    created = run_python(
        "manage.py", "sqlmigrate_new", "added by a developer", cwd=checkout, env=NO_DATABASE
    )
    assert created.code == 0, created.output
    assert (checkout / "backend/db/migrations/004_added_by_a_developer.up.sql").exists()

    result = run_python(
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-k",
        "not postgresql",
        "tests/test_api.py::test_health_is_503_listing_pending_versions",
        "tests/test_api.py::test_the_models_read_the_sql_tables",
        "tests/test_backend_schema.py::test_rolling_back_the_schema_drops_every_table",
        "tests/test_exit_paths.py::test_every_command_refuses_a_bad_database_url_with_one_line",
        "tests/test_test_runner.py::test_migrate_outside_tests_leaves_sql_migrations_alone",
        cwd=checkout,
        env={**NO_DATABASE, "SQLMIGRATIONS_REQUIRE_POSTGRES": "0"},
        timeout=300,
    )

    assert result.code == 0, result.output[-3000:]
    assert " passed" in result.out and "failed" not in result.out


# ---------------------------------------------------------------------------
# runserver, check --database, migrate --check


def test_runserver_warns_about_pending_sql_migrations(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")
    assert target.run("sqlmigrate_up", "--target", "1").code == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=REPO,
        env={
            **os.environ,
            "DJANGO_DEBUG": "1",
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "tests.subprocess_settings",
            "SQLMIGRATIONS_TEST_DIRS": str(migrations.path),
            "DATABASE_URL": target.url,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        assert server.stdout is not None
        for line in server.stdout:
            lines.append(line)
            if "Quit the server" in line or len(lines) > 50:
                break
    finally:
        server.terminate()
        server.wait(timeout=10)

    output = "".join(lines)
    assert "Quit the server" in output, output
    assert "You have 1 unapplied SQL migration(s): 002_create_b." in output
    assert "Run 'python manage.py sqlmigrate_up' to apply them." in output
    assert target.applied() == [1]


def test_check_database_reports_pending_sql_migrations_as_a_warning(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")
    assert target.run("sqlmigrate_up", "--target", "1").code == 0

    result = target.run("check")

    assert result.code == 0, result.output
    assert (
        "(sqlmigrations.W001) 1 SQL migration(s) pending on database 'target': 002_create_b"
        in result.err
    )
    assert "HINT: apply them with python manage.py sqlmigrate_up --database target" in result.err
    assert target.applied() == [1]


def test_check_database_is_quiet_when_the_history_matches(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0

    result = target.run("check")

    assert result.code == 0, result.output
    assert "sqlmigrations" not in result.output
    assert "System check identified no issues" in result.out


def test_check_database_fails_on_a_drifted_or_failed_migration(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")
    assert target.run("sqlmigrate_up").code == 0
    migrations.write("001_create_a.up.sql", "CREATE TABLE a (id integer);\n")
    target.execute("UPDATE schema_migrations SET dirty = true WHERE version = 2")

    result = target.run("check")

    assert result.code == 1, result.output
    assert (
        "(sqlmigrations.E004) database 'target': 001_create_a: applied, but its up file "
        "has changed since (checksum differs)" in result.err
    )
    assert "(sqlmigrations.E004) database 'target': 002_create_b: failed midway" in result.err


def test_check_reads_the_history_only_when_given_a_database(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")

    plain = run_python(
        "manage.py", "check", migrations_dir=migrations.path, database_url=target.url
    )
    result = target.run("check")

    assert plain.code == 0 and "sqlmigrations" not in plain.output
    assert result.code == 0, result.output
    assert "1 SQL migration(s) pending on database 'target': 001_create_a" in result.err
    assert target.applied() == []


@pytest.mark.parametrize("mode, code", [(True, 1), ("tests", 0), (False, 0)])
def test_migrate_check_fails_on_pending_sql_migrations_only_when_migrate_applies_them(
    target: TargetDatabase, migrations: MigrationFiles, settings: Any, mode: Any, code: int
) -> None:
    settings.SQLMIGRATIONS_APPLY_ON_MIGRATE = True
    migrations.table(1, "a")
    call_command("migrate", database="target", verbosity=0)
    assert target.applied() == [1]
    settings.SQLMIGRATIONS_APPLY_ON_MIGRATE = mode
    migrations.table(2, "b")

    err = StringIO()
    try:
        call_command("migrate", "--check", database="target", verbosity=1, stderr=err)
        exit_code = 0
    except SystemExit as exc:
        exit_code = int(exc.code or 0)

    assert exit_code == code
    if code:
        assert "SQL migrations pending on database 'target': 002_create_b" in err.getvalue()
    assert target.applied() == [1]


# ---------------------------------------------------------------------------
# Documents the code cites


def test_the_code_cites_only_documents_in_the_repository() -> None:
    """A comment pointing at a design or style note outside the repository leaves a
    reader of a clone with nothing to read."""
    outside = ".." + "/shared"  # spelled apart so that this file does not cite it
    sources = [
        path
        for folder in ("sqlmigrations", "backend", "tests", "bench", ".ci", ".github")
        if (REPO / folder).exists()
        for path in (REPO / folder).rglob("*")
        if path.is_file() and path.suffix in {".py", ".sql", ".yml", ""}
        if "__pycache__" not in path.parts
    ]
    cited = {
        (path.relative_to(REPO), name)
        for path in sources
        for name in re.findall(r"[\w./-]+\.md\b", path.read_text(errors="replace"))
    }
    missing = [
        f"{source}: {name}"
        for source, name in sorted(cited)
        if not (REPO / name).exists() and not (REPO / source.parent / name).exists()
    ]
    assert cited, "the search found nothing: it would pass whatever the code says"
    assert missing == []
    assert (REPO / "docs/design.md").exists()
    for path in sources:
        assert outside not in path.read_text(errors="replace"), path


# ---------------------------------------------------------------------------
# Logging: once on the terminal, every record to configured handlers

FAILING = ("CREATE TABLE a (id integer);\nSELECT * FROM no_such_table;\n", "DROP TABLE a;\n")


@pytest.mark.parametrize(
    "command",
    [
        ["sqlmigrate_up"],
        # migrate applies SQL migrations itself when the setting says so (testdb.py).
        ["migrate", "--noinput", "-v", "0"],
    ],
)
def test_without_logging_settings_a_failure_is_printed_once(
    migrations: MigrationFiles, tmp_path: Path, command: list[str]
) -> None:
    migrations.pair("001_a", *FAILING)
    settings = {"LOGGING": {}, "SQLMIGRATIONS_APPLY_ON_MIGRATE": True}

    result = run_python(
        "manage.py",
        *command,
        migrations_dir=migrations.path,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        env={"SQLMIGRATIONS_TEST_SETTINGS": json.dumps(settings)},
    )

    assert result.code == 1, result.output
    assert result.output.count("no such table: no_such_table") == 1, result.output
    assert "failed on database" not in result.output  # the logger's record


def test_the_logger_still_reaches_configured_handlers(
    migrations: MigrationFiles, tmp_path: Path
) -> None:
    migrations.pair("001_a", *FAILING)
    own, root = tmp_path / "sqlmigrations.log", tmp_path / "root.log"
    logging = {
        "version": 1,
        "handlers": {
            "own": {"class": "logging.FileHandler", "filename": str(own)},
            "root": {"class": "logging.FileHandler", "filename": str(root)},
        },
        "loggers": {"sqlmigrations": {"handlers": ["own"], "level": "INFO"}},
        "root": {"handlers": ["root"], "level": "WARNING"},
    }

    result = run_python(
        "manage.py",
        "sqlmigrate_up",
        migrations_dir=migrations.path,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        env={"SQLMIGRATIONS_TEST_SETTINGS": json.dumps({"LOGGING": logging})},
    )

    assert result.code == 1, result.output
    assert result.output.count("no such table: no_such_table") == 1, result.output
    assert "001_a failed on database 'default'" in own.read_text()
    assert "001_a failed on database 'default'" in root.read_text()


# ---------------------------------------------------------------------------
# Output


def test_the_printed_duration_is_the_stored_execution_ms(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    from tests.conftest import slow_statement

    slow = slow_statement(target.vendor, 0.05)
    migrations.pair("001_slow", f"CREATE TABLE a (id integer);\n{slow}\n", "DROP TABLE a;\n")
    migrations.pair("002_slow", f"{slow}\n{slow}\n", "SELECT 1;\n")
    migrations.pair("003_quick", "CREATE TABLE c (id integer);\n", "DROP TABLE c;\n")
    migrations.write(
        "004_outside.up.sql",
        f"-- sqlmigrate: no-transaction\nCREATE TABLE d (id integer);\n{slow}\n",
    )
    migrations.write("004_outside.down.sql", "DROP TABLE d;\n")

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    printed = {
        label: int(ms)
        for label, ms in re.findall(r"Applying (\w+)\.\.\. OK \((\d+) ms\)", result.out)
    }
    stored = dict(target.query("SELECT name, execution_ms FROM schema_migrations"))
    assert printed == stored
    assert len(printed) == 4


# ---------------------------------------------------------------------------
# Verbosity: the same meaning in every command


def test_verbosity_means_the_same_in_every_command(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")
    runs = [
        ("sqlmigrate_up", "--dry-run"),
        ("sqlmigrate_up",),
        ("sqlmigrate_status",),
        ("sqlmigrate_repair",),
        ("sqlmigrate_down", "--noinput", "--no-backup"),
        ("sqlmigrate_down", "--noinput", "--no-backup", "--dry-run"),
        ("sqlmigrate_new", "next"),
    ]
    for run in runs:
        for verbosity in ("0", "1", "2", "3"):
            if run[0] == "sqlmigrate_down" and "--dry-run" not in run:
                target.run("sqlmigrate_up")
            if run[0] == "sqlmigrate_new":
                for path in migrations.path.glob("003_*"):
                    path.unlink()
            result = target.run(*run, "-v", verbosity)
            assert result.code == 0, (run, verbosity, result.output)
            if verbosity == "0":
                assert result.output == "", (run, result.output)
                continue
            assert result.out, run
            # 2 adds the database (status names it at 1 already: it is its table's heading).
            database = "Database: " in result.out
            assert database == (verbosity != "1" or run[0] == "sqlmigrate_status"), run


def test_verbosity_2_names_the_files_and_3_adds_each_statement(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_two",
        "CREATE TABLE a (id integer);\n\nCREATE TABLE b (id integer);\n",
        "DROP TABLE b;\nDROP TABLE a;\n",
    )

    two = target.run("sqlmigrate_up", "--dry-run", "-v", "2")
    three = target.run("sqlmigrate_up", "-v", "3")
    down = target.run("sqlmigrate_down", "--noinput", "--no-backup", "-v", "2")

    assert f"  Apply 001_two ({migrations.path / '001_two.up.sql'})" in two.out
    assert "-- 001_two.up.sql:3" not in two.out
    assert (
        three.out.index("    -- 001_two.up.sql:1\n    CREATE TABLE a (id integer)")
        < three.out.index("    -- 001_two.up.sql:3\n    CREATE TABLE b (id integer)")
        < three.out.index("  Applying 001_two (001_two.up.sql)... OK (")
    )
    assert "  Unapplying 001_two (001_two.down.sql)... OK (" in down.out
    assert "DROP TABLE" not in down.out


def test_a_long_run_numbers_its_lines(target: TargetDatabase, migrations: MigrationFiles) -> None:
    for version in range(1, 13):
        migrations.table(version, f"t{version}")

    short = target.run("sqlmigrate_up", "--target", "2")
    long = target.run("sqlmigrate_up")
    back = target.run("sqlmigrate_down", "--noinput", "--no-backup", "--target", "0")

    assert "  Applying 001_create_t1... OK" in short.out and "[" not in short.out
    assert "  [ 1/10] Applying 003_create_t3... OK (" in long.out
    assert "  [10/10] Applying 012_create_t12... OK (" in long.out
    assert "  [12/12] Unapplying 001_create_t1... OK (" in back.out


# ---------------------------------------------------------------------------
# sqlmigrate_show


def test_show_prints_one_migrations_statements_applied_or_not(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.pair(
        "002_two",
        "-- header\nCREATE TABLE b (id integer);\n\nINSERT INTO b VALUES (1); INSERT INTO b VALUES (2)\n",
        "DROP TABLE b;\n",
    )
    migrations.write(
        f"002_two.{target.vendor}.up.sql",
        "CREATE TABLE b (id integer);\nINSERT INTO b VALUES (';');\n",
    )
    assert target.run("sqlmigrate_up", "--target", "1").code == 0

    applied = target.run("sqlmigrate_show", "1")
    pending = target.run("sqlmigrate_show", "2")
    down = target.run("sqlmigrate_show", "2", "--down")
    quiet = target.run("sqlmigrate_show", "2", "-v", "0")

    assert applied.code == 0, applied.output
    assert applied.out.splitlines() == [
        "-- 001_create_a.up.sql: one transaction, with its history row",
        "BEGIN;",
        "-- 001_create_a.up.sql:1",
        "CREATE TABLE a (id integer PRIMARY KEY);",
        "COMMIT;",
    ]
    variant = f"002_two.{target.vendor}.up.sql"
    assert pending.out.splitlines()[2:] == [
        f"-- {variant}:1",
        "CREATE TABLE b (id integer);",
        f"-- {variant}:2",
        "INSERT INTO b VALUES (';');",
        "COMMIT;",
    ]
    assert "-- 002_two.down.sql:1\nDROP TABLE b;\n" in down.out
    assert quiet.out == pending.out
    assert target.applied() == [1]
    assert target.user_tables() == {"a"}


def test_show_of_an_unknown_version_or_a_refused_file_is_one_line_exit_2(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.pair("002_commits", "CREATE TABLE b (id integer);\nCOMMIT;\n", "DROP TABLE b;\n")

    unknown = target.run("sqlmigrate_show", "7")
    refused = target.run("sqlmigrate_show", "2")
    bad = target.run("sqlmigrate_show", "x")

    assert (unknown.code, unknown.err) == (
        2,
        "no migration has version 7 (the files hold versions 1 to 2)",
    )
    assert refused.code == 2 and refused.err.startswith("002_commits.up.sql:2: ")
    assert bad.code == 2 and "'x' is not a migration version number" in bad.err
    assert target.applied() == []


@pytest.mark.parametrize(
    "command",
    [
        "sqlmigrate_up",
        "sqlmigrate_down",
        "sqlmigrate_status",
        "sqlmigrate_repair",
        "sqlmigrate_new",
        "sqlmigrate_show",
    ],
)
def test_every_option_and_argument_has_help(command: str) -> None:
    from django.core.management import load_command_class

    parser = load_command_class("sqlmigrations", command).create_parser("manage.py", command)

    actions = [a for a in parser._actions if a.dest != "help"]
    assert len(actions) > 8  # Django's own options are there too
    assert [a.dest for a in actions if not a.help] == []
    assert parser.allow_abbrev is False
