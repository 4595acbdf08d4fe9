"""sqlmigrate_down: roll back the newest migrations, each with its history row."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from tests.conftest import REPO, MigrationFiles, TargetDatabase, manage


@pytest.fixture
def three_applied(target: TargetDatabase, migrations: MigrationFiles) -> TargetDatabase:
    for version, table in [(1, "a"), (2, "b"), (3, "c")]:
        migrations.table(version, table)
    assert target.run("sqlmigrate_up").code == 0
    return target


def test_rolls_back_only_the_newest_by_default(three_applied: TargetDatabase) -> None:
    result = three_applied.run("sqlmigrate_down", "--noinput")

    assert result.code == 0, result.output
    assert "Unapplying 003_create_c... OK" in result.out
    assert "Rolled back 1 migration on database 'target'." in result.out
    assert three_applied.applied() == [1, 2]
    assert three_applied.user_tables() == {"a", "b"}


def test_steps_rolls_back_newest_first(three_applied: TargetDatabase) -> None:
    result = three_applied.run("sqlmigrate_down", "--noinput", "--steps", "2")

    assert result.code == 0, result.output
    assert result.out.index("Unapplying 003_create_c") < result.out.index("Unapplying 002_create_b")
    assert three_applied.applied() == [1]
    assert three_applied.user_tables() == {"a"}


def test_target_rolls_back_everything_above_it(three_applied: TargetDatabase) -> None:
    result = three_applied.run("sqlmigrate_down", "--noinput", "--target", "1")

    assert result.code == 0, result.output
    assert three_applied.applied() == [1]


def test_target_zero_rolls_back_everything(three_applied: TargetDatabase) -> None:
    result = three_applied.run("sqlmigrate_down", "--noinput", "--target", "0")

    assert result.code == 0, result.output
    assert three_applied.applied() == []
    assert three_applied.user_tables() == set()


def test_unknown_target_is_refused(three_applied: TargetDatabase) -> None:
    result = three_applied.run("sqlmigrate_down", "--noinput", "--target", "42")

    assert result.code == 2
    assert "--target 42 is not a migration version" in result.err
    assert three_applied.applied() == [1, 2, 3]


def test_more_steps_than_applied_is_refused(three_applied: TargetDatabase) -> None:
    result = three_applied.run("sqlmigrate_down", "--noinput", "--steps", "4")

    assert result.code == 2
    assert result.err == "--steps 4 is more than the 3 applied migrations"
    assert three_applied.applied() == [1, 2, 3]


def test_nothing_applied_is_not_an_error(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")

    result = target.run("sqlmigrate_down", "--noinput")

    assert result.code == 0
    assert "No migrations to roll back." in result.out
    if target.path is not None:
        assert not target.path.exists()


def test_dry_run_prints_down_sql_and_changes_nothing(three_applied: TargetDatabase) -> None:
    result = three_applied.run("sqlmigrate_down", "--dry-run", "--steps", "2")

    assert result.code == 0, result.output
    assert "  Unapply 003_create_c\n  Unapply 002_create_b\n" in result.out
    assert "-- 003_create_c.down.sql\nDROP TABLE c;" in result.out
    assert three_applied.applied() == [1, 2, 3]
    assert three_applied.user_tables() == {"a", "b", "c"}


def test_failing_down_keeps_the_migration_applied(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_keep",
        "CREATE TABLE keep (id integer);\nINSERT INTO keep VALUES (1);\n",
        "DELETE FROM keep;\nDROP TABLE no_such_table;\n",
    )
    assert target.run("sqlmigrate_up").code == 0

    result = target.run("sqlmigrate_down", "--noinput")

    assert result.code == 1
    assert result.err.startswith("001_keep.down.sql:2: ")
    assert "Rolled back before the failure: none." in result.err
    assert target.applied() == [1]
    assert target.query("SELECT id FROM keep") == [(1,)]


def test_refuses_without_a_terminal_unless_noinput(three_applied: TargetDatabase) -> None:
    result = three_applied.run("sqlmigrate_down")

    assert result.code == 2
    assert "refusing to roll back 003_create_c without confirmation" in result.err
    assert "--noinput" in result.err
    assert three_applied.applied() == [1, 2, 3]


def _down_on_a_terminal(database_url: str, migrations_dir: str, answer: str) -> tuple[int, str]:
    """Run sqlmigrate_down with a real pseudo-terminal as stdin and type ``answer``."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_PATH")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.subprocess_settings",
        SQLMIGRATIONS_TEST_DIRS=migrations_dir,
        DATABASE_URL=database_url,
    )
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "sqlmigrate_down", "--no-color"],
        cwd=REPO,
        env=env,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    os.close(slave)
    os.write(master, f"{answer}\n".encode())
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    return proc.returncode, out


def test_asks_on_a_terminal_and_rolls_back_on_yes(
    three_applied: TargetDatabase, migrations: MigrationFiles
) -> None:
    code, out = _down_on_a_terminal(three_applied.url, str(migrations.path), "yes")

    assert code == 0, out
    assert "This will roll back 003_create_c on database 'default'" in out
    assert three_applied.applied() == [1, 2]


def test_asks_on_a_terminal_and_cancels_on_anything_else(
    three_applied: TargetDatabase, migrations: MigrationFiles
) -> None:
    code, out = _down_on_a_terminal(three_applied.url, str(migrations.path), "no")

    assert code == 2, out
    assert "rollback cancelled; nothing was changed" in out
    assert three_applied.applied() == [1, 2, 3]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "must be 1 or more, not 0"),
        ("-1", "must be 1 or more, not -1"),
        ("two", "'two' is not a whole number"),
    ],
)
def test_bad_steps_values_exit_2_without_traceback(
    three_applied: TargetDatabase, migrations: MigrationFiles, value: str, message: str
) -> None:
    result = manage(
        "sqlmigrate_down",
        "--noinput",
        f"--steps={value}",
        database_url=three_applied.url,
        migrations_dir=migrations.path,
    )

    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err
    assert three_applied.applied() == [1, 2, 3]
