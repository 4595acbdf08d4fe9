"""sqlmigrate_lint's formats and exit codes, without squawk, on SQLite, and the lint
of the backend's own files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, MigrationFiles, TargetDatabase, lint, manage, run_python

pytestmark = pytest.mark.usefixtures("lint_settings")


@pytest.fixture
def two_findings(postgres: TargetDatabase, migrations: MigrationFiles) -> Path:
    migrations.pair(
        "001_codes",
        "CREATE TABLE codes (\n    id int PRIMARY KEY,\n    code char(3)\n);\n",
        "DROP TABLE codes;",
    )
    return migrations.path / "001_codes.up.sql"


def test_text(postgres: TargetDatabase, two_findings: Path) -> None:
    result = lint(postgres)

    assert result.out == (
        f"{two_findings}:2: prefer-bigint-over-int: Using 32-bit integer fields can result "
        "in hitting the max `int` limit.\n"
        "  help: Use 64-bit integer values instead to prevent hitting this limit.\n"
        f"{two_findings}:3: ban-char-field: Using `character` is likely a mistake and should "
        "almost always be replaced by `text` or `varchar`.\n"
    )
    assert (result.code, result.err) == (1, "2 findings in 1 of 1 file.")


def test_json(postgres: TargetDatabase, two_findings: Path) -> None:
    result = lint(postgres, "--format", "json")

    report = json.loads(result.out)
    assert result.code == 1
    assert report["count"] == 2
    assert report["files"] == [str(two_findings)]
    assert report["findings"][0] == {
        "file": str(two_findings),
        "line": 2,
        "rule": "prefer-bigint-over-int",
        "message": "Using 32-bit integer fields can result in hitting the max `int` limit.",
        "help": "Use 64-bit integer values instead to prevent hitting this limit.",
    }
    assert report["findings"][1]["help"] is None
    assert report["squawk_version"]


def test_github_annotations(postgres: TargetDatabase, two_findings: Path) -> None:
    result = lint(postgres, "--format", "github")

    assert result.out.splitlines() == [
        f"::warning file={two_findings},line=2,title=prefer-bigint-over-int::Using 32-bit "
        "integer fields can result in hitting the max `int` limit. Help: Use 64-bit integer "
        "values instead to prevent hitting this limit.",
        f"::warning file={two_findings},line=3,title=ban-char-field::Using `character` is "
        "likely a mistake and should almost always be replaced by `text` or `varchar`.",
    ]
    assert result.code == 1


def test_github_paths_are_relative_to_the_checkout(
    postgres: TargetDatabase, two_findings: Path
) -> None:
    """GitHub places an annotation by the file's path in the repository: the
    workflow runs from the checkout, so paths are relative to the working directory."""
    checkout = two_findings.parent.parent
    result = run_python(
        str(REPO / "manage.py"),
        "sqlmigrate_lint",
        "--format",
        "github",
        database_url=postgres.url,
        migrations_dir=two_findings.parent,
        cwd=checkout,
        env={"SQLMIGRATIONS_TEST_SETTINGS": json.dumps({"SQLMIGRATIONS_LINT_EXCLUDE": {}})},
    )

    assert result.code == 1, result.output
    assert result.out.startswith(
        "::warning file=migrations/001_codes.up.sql,line=2,title=prefer-bigint-over-int::"
    )


def test_no_findings_exit_0(postgres: TargetDatabase, migrations: MigrationFiles) -> None:
    migrations.pair("001_t", "CREATE TABLE t (id bigint PRIMARY KEY);\n", "SELECT 1;")

    result = lint(postgres)
    as_json = lint(postgres, "--format", "json")

    assert (result.code, result.out, result.err) == (0, "0 findings in 1 file.\n", "")
    assert (as_json.code, json.loads(as_json.out)["count"]) == (0, 0)


def test_nothing_pending_is_nothing_to_lint(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("001_t", "CREATE TABLE t (id int PRIMARY KEY);\n", "DROP TABLE t;")
    assert postgres.run("sqlmigrate_up").code == 0

    result = lint(postgres)

    assert (result.code, result.out) == (0, "0 findings in 0 files.\n")
    assert lint(postgres, "--all").code == 1  # 001's int and DROP TABLE


def test_unknown_format_exits_2(postgres: TargetDatabase, migrations: MigrationFiles) -> None:
    migrations.pair("001_t", "SELECT 1;", "SELECT 1;")

    result = lint(postgres, "--format", "xml")

    assert result.code == 2
    assert "invalid choice: 'xml'" in result.err


def test_without_squawk_it_says_how_to_install_it(
    postgres: TargetDatabase, two_findings: Path, settings: Any, tmp_path: Path
) -> None:
    settings.SQLMIGRATIONS_SQUAWK = str(tmp_path / "bin" / "squawk")

    result = lint(postgres)

    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "squawk is not installed: install it with pip install 'sqlmigrations[lint-sql]' "
        "(or pip install squawk-cli), or set SQLMIGRATIONS_SQUAWK to its path "
        f"(SQLMIGRATIONS_SQUAWK is {tmp_path / 'bin' / 'squawk'}, not an executable)"
    )


def test_without_squawk_on_the_path_in_a_real_process(
    postgres: TargetDatabase, two_findings: Path, tmp_path: Path
) -> None:
    """No setting: squawk is looked for beside Python and on PATH. A Python whose
    directory holds no squawk (a symlink to this one elsewhere) and a bare PATH."""
    bare = tmp_path / "python-without-squawk"
    bare.mkdir()
    (bare / "python").symlink_to(Path(sys.executable).resolve())
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tests.subprocess_settings",
        "SQLMIGRATIONS_TEST_DIRS": str(two_findings.parent),
        "DATABASE_URL": postgres.url,
        "PYTHONPATH": f"{REPO}:{':'.join(p for p in sys.path if p)}",
    }
    proc = subprocess.run(
        [str(bare / "python"), "manage.py", "sqlmigrate_lint"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("CommandError: squawk is not installed: install it with pip")


def test_on_sqlite_it_says_which_checks_apply_and_exits_0(
    migrations: MigrationFiles, tmp_path: Path
) -> None:
    migrations.pair("001_t", "CREATE TABLE t (id int PRIMARY KEY, c char(3));\n", "DROP TABLE t;")
    database = tmp_path / "db.sqlite3"

    result = manage(
        "sqlmigrate_lint", "--all", migrations_dir=migrations.path, env={"DB_PATH": str(database)}
    )

    assert (result.code, result.err) == (0, "")
    assert result.out.startswith("squawk's rules are PostgreSQL's: none of them apply to SQLite")
    assert not database.exists()


def test_the_backends_own_files_are_clean_or_suppressed_with_reasons(
    postgres: TargetDatabase,
) -> None:
    """With the backend's real settings (its SQLMIGRATIONS_LINT_EXCLUDE), in a process."""
    result = manage("sqlmigrate_lint", "--all", "-v", "2", database_url=postgres.url)

    assert result.code == 0, result.output
    assert "0 findings in 6 files" in result.out
    suppressed = [line for line in result.out.splitlines() if "suppressed:" in line]
    assert suppressed
    assert all("(no reason given)" not in line for line in suppressed)
    assert "note: ban-char-field is excluded project-wide: char(3) holds ISO 4217" in result.out
