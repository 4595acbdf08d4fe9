"""``-- sqlmigrate: no-transaction`` files, and the failed record they leave when they stop midway."""

from __future__ import annotations

import pytest

from tests.conftest import MigrationFiles, TargetDatabase

DIRECTIVE = "-- sqlmigrate: no-transaction\n"


def index_names(database: TargetDatabase) -> set[str]:
    if database.vendor == "sqlite":
        rows = database.query(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    else:
        rows = database.query("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    return {row[0] for row in rows}


@pytest.fixture
def with_table(postgres: TargetDatabase, migrations: MigrationFiles) -> TargetDatabase:
    migrations.pair("001_t", "CREATE TABLE t (a integer, b integer);", "DROP TABLE t;")
    assert postgres.run("sqlmigrate_up").code == 0
    return postgres


def test_create_index_concurrently_twice_in_one_file(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "002_indexes",
        DIRECTIVE
        + "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);\nCREATE INDEX CONCURRENTLY t_b_idx ON t (b);\n",
        DIRECTIVE + "DROP INDEX CONCURRENTLY t_a_idx;\nDROP INDEX CONCURRENTLY t_b_idx;\n",
    )

    result = with_table.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert {"t_a_idx", "t_b_idx"} <= index_names(with_table)
    assert with_table.query("SELECT dirty FROM schema_migrations WHERE version = 2") == [(False,)]
    assert with_table.run("sqlmigrate_status", "--check").code == 0
    down = with_table.run("sqlmigrate_down", "--noinput")
    assert down.code == 0, down.output
    assert not {"t_a_idx", "t_b_idx"} & index_names(with_table)


def test_without_the_directive_postgresql_refuses_and_nothing_is_recorded(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "002_index", "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);", "DROP INDEX t_a_idx;"
    )

    result = with_table.run("sqlmigrate_up")

    assert result.code == 1
    assert "cannot run inside a transaction block (SQLSTATE 25001)" in result.err
    assert with_table.applied() == [1]


@pytest.fixture
def failed_midway(with_table: TargetDatabase, migrations: MigrationFiles) -> TargetDatabase:
    migrations.pair(
        "002_indexes",
        DIRECTIVE
        + "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);\nCREATE INDEX CONCURRENTLY t_c_idx ON t (c);\n",
        DIRECTIVE
        + "DROP INDEX CONCURRENTLY IF EXISTS t_a_idx;\nDROP INDEX CONCURRENTLY IF EXISTS t_c_idx;\n",
    )
    migrations.table(3, "later")
    result = with_table.run("sqlmigrate_up")
    assert result.code == 1
    assert result.err.startswith('002_indexes.up.sql:3: column "c" does not exist (SQLSTATE 42703)')
    assert "002_indexes ran outside a transaction" in result.err
    assert "To recover: either undo by hand what 002_indexes did" in result.err
    assert "Not applied (rolled back or not started): 003_create_later." in result.err
    return with_table


def test_failure_midway_is_recorded_and_blocks_every_later_run(
    failed_midway: TargetDatabase,
) -> None:
    status = failed_midway.run("sqlmigrate_status")
    again = failed_midway.run("sqlmigrate_up")

    assert "t_a_idx" in index_names(failed_midway)  # the first statement stays done
    # Labels are padded to the longest (003_create_later) so the columns align.
    assert " [!] 002_indexes       failed midway outside a transaction" in status.out
    assert failed_midway.run("sqlmigrate_status", "--check").code == 1
    assert again.code == 2
    assert again.err.startswith(
        "002_indexes failed midway outside a transaction and may be partly applied"
    )
    assert failed_midway.applied() == [1, 2]
    assert "later" not in failed_midway.user_tables()


def test_recover_by_hand_then_repair_then_up(
    failed_midway: TargetDatabase, migrations: MigrationFiles
) -> None:
    failed_midway.execute("DROP INDEX t_a_idx")  # undo by hand
    migrations.write(
        "002_indexes.up.sql",
        DIRECTIVE
        + "CREATE INDEX CONCURRENTLY t_a_idx ON t (a);\nCREATE INDEX CONCURRENTLY t_b_idx ON t (b);\n",
    )

    repair = failed_midway.run("sqlmigrate_repair")
    up = failed_midway.run("sqlmigrate_up")

    assert "Cleared the failed record of 002_indexes: it is pending again" in repair.out
    assert up.code == 0, up.output
    assert failed_midway.applied() == [1, 2, 3]
    assert {"t_a_idx", "t_b_idx"} <= index_names(failed_midway)


def test_recover_with_down(failed_midway: TargetDatabase) -> None:
    down = failed_midway.run("sqlmigrate_down", "--noinput")

    assert down.code == 0, down.output
    assert failed_midway.applied() == [1]
    assert "t_a_idx" not in index_names(failed_midway)


def test_down_may_go_past_the_failed_one_once_it_is_rolled_back(
    failed_midway: TargetDatabase,
) -> None:
    result = failed_midway.run("sqlmigrate_down", "--noinput", "--steps", "2")

    assert result.code == 0, result.output
    assert result.out.index("Unapplying 002_indexes") < result.out.index("Unapplying 001_t")
    assert failed_midway.applied() == []


def test_fake_up_is_refused_too_while_one_failed(failed_midway: TargetDatabase) -> None:
    result = failed_midway.run("sqlmigrate_up", "--fake")

    assert result.code == 2
    assert failed_midway.applied() == [1, 2]


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_sqlite_vacuum_needs_the_directive(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("001_t", "CREATE TABLE t (a integer);", "DROP TABLE t;")
    migrations.pair("002_vacuum", "VACUUM;", "SELECT 1;")
    refused = target.run("sqlmigrate_up")
    assert refused.code == 1
    assert "cannot VACUUM from within a transaction" in refused.err
    migrations.write("002_vacuum.up.sql", DIRECTIVE + "VACUUM;")

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.applied() == [1, 2]
