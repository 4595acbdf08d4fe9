"""A database another runner migrated: its schema_migrations stops every command with
exit 2, the runner it looks like and the command that adopts it, before any query fails."""

from __future__ import annotations

import pytest

from tests import runner_tables
from tests.conftest import MigrationFiles, TargetDatabase

COMMANDS = [
    ("sqlmigrate_up",),
    ("sqlmigrate_up", "--dry-run"),
    ("sqlmigrate_status",),
    ("sqlmigrate_down", "--noinput"),
    ("sqlmigrate_repair",),
]
LOOKS_LIKE = {"golang-migrate": "golang-migrate", "dbmate": "dbmate", "node": "the Node runner"}


@pytest.mark.parametrize("runner", ["golang-migrate", "dbmate", "node"])
def test_every_command_names_the_runner_and_the_adopt_command(
    target: TargetDatabase, migrations: MigrationFiles, runner: str
) -> None:
    migrations.table(1, "a")
    runner_tables.create(target, runner)
    runner_tables.record(target, runner, [1])
    before = target.query("SELECT * FROM schema_migrations")

    for command in COMMANDS:
        result = target.run(*command)
        assert result.code == 2, (command, result.output)
        assert f"looks like {LOOKS_LIKE[runner]}'s history" in result.err, result.output
        assert "sqlmigrate_adopt --database target" in result.err
        assert "Traceback" not in result.output
    assert target.user_tables() == set()
    assert target.query("SELECT * FROM schema_migrations") == before


def test_a_schema_migrations_of_no_known_runner_is_named_too(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    target.execute("CREATE TABLE schema_migrations (id integer, filename text)")

    result = target.run("sqlmigrate_up")
    assert result.code == 2, result.output
    assert "is not this app's history (its columns: filename, id)" in result.err
    assert target.user_tables() == set()


def test_flyway_and_django_tables_are_not_in_the_way(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    runner_tables.create(target, "flyway")
    runner_tables.record(target, "flyway", [1])

    result = target.run("sqlmigrate_up")
    assert result.code == 0, result.output
    assert target.applied() == [1]


def test_manage_py_migrate_names_the_runner_too(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    runner_tables.create(target, "dbmate")

    result = target.run("migrate", "sqlmigrations")
    assert result.code == 2, result.output
    assert "looks like dbmate's history" in result.err
    assert "sqlmigrate_adopt --database target" in result.err
