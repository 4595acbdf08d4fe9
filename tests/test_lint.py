"""sqlmigrate_lint: squawk's findings, each file linted the way the runner will run it.

One migration file per rule family the lint relies on (locks, constraints,
destructive changes, types, renames, timeouts), all through the real squawk
binary (the ``test`` extra installs it) against a real PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    POSTGRES_URL,
    MigrationFiles,
    Result,
    TargetDatabase,
    lint,
    pg_connection,
    pg_execute,
)

pytestmark = pytest.mark.usefixtures("lint_settings")


def rules(result: Result) -> list[tuple[str, int, str]]:
    """(file name, line, rule) of each finding in text output."""
    found = []
    for line in result.out.splitlines():
        if line.startswith("  "):
            continue
        location, rule, _ = line.split(": ", 2)
        path, number = location.rsplit(":", 1)
        found.append((Path(path).name, int(number), rule))
    return found


def test_locks_a_blocking_index_is_found_in_the_pending_file_only(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "002_index",
        "-- Speeds up the lookups by a.\n\nCREATE INDEX t_a_idx ON t (a);\n",
        "DROP INDEX t_a_idx;",
    )

    result = lint(with_table)

    assert result.code == 1, result.output
    assert rules(result) == [("002_index.up.sql", 3, "require-concurrent-index-creation")]
    path = migrations.path / "002_index.up.sql"
    assert result.out.startswith(
        f"{path}:3: require-concurrent-index-creation: During normal index creation, "
        "table updates are blocked, but reads are still allowed.\n"
        "  help: Use `concurrently` to avoid blocking writes.\n"
    )
    assert result.err == "1 finding in 1 of 1 file."


def test_constraints_that_scan_the_table_under_a_lock(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "002_constraints",
        "ALTER TABLE t ADD CONSTRAINT a_short CHECK (length(a) < 100);\n"
        "ALTER TABLE t ALTER COLUMN a SET NOT NULL;\n",
        "ALTER TABLE t DROP CONSTRAINT a_short;",
    )

    result = lint(with_table)

    assert result.code == 1
    assert rules(result) == [
        ("002_constraints.up.sql", 1, "constraint-missing-not-valid"),
        ("002_constraints.up.sql", 2, "adding-not-nullable-field"),
    ]


def test_destructive_changes_in_up_and_down_files(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "002_drop_a",
        "ALTER TABLE t DROP COLUMN a;\n",
        "ALTER TABLE t ADD COLUMN a text;\n",
    )

    pending = lint(with_table)
    every = lint(with_table, "--all")

    assert rules(pending) == [("002_drop_a.up.sql", 1, "ban-drop-column")]
    # --all: every up and down file, applied or not (001's down file drops t).
    assert rules(every) == [
        ("001_t.down.sql", 1, "ban-drop-table"),
        ("002_drop_a.up.sql", 1, "ban-drop-column"),
    ]
    assert every.err == "2 findings in 2 of 4 files."


def test_types_and_renames(with_table: TargetDatabase, migrations: MigrationFiles) -> None:
    migrations.pair(
        "002_types",
        "CREATE TABLE codes (id int PRIMARY KEY, code char(3));\n"
        "ALTER TABLE t RENAME COLUMN a TO b;\n",
        "DROP TABLE codes;\nALTER TABLE t RENAME COLUMN b TO a;\n",
    )

    result = lint(with_table)

    assert rules(result) == [
        ("002_types.up.sql", 1, "ban-char-field"),
        ("002_types.up.sql", 1, "prefer-bigint-over-int"),
        ("002_types.up.sql", 2, "renaming-column"),
    ]


def test_timeouts_the_runner_sets_are_not_asked_for_again(
    with_table: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    """By default the runner sets a lock timeout for every transactional migration
    (SQLMIGRATIONS_STATEMENT_LOCK_TIMEOUT, 5 s) and leaves statement_timeout to the
    session: squawk's lock rule does not apply, its statement rule does."""
    migrations.pair("002_add", "ALTER TABLE t ADD COLUMN c text;\n", "ALTER TABLE t DROP c;")
    settings.SQLMIGRATIONS_STATEMENT_TIMEOUT = None  # the default

    default = lint(with_table)
    settings.SQLMIGRATIONS_STATEMENT_LOCK_TIMEOUT = 0  # waits indefinitely
    no_lock_timeout = lint(with_table)
    settings.SQLMIGRATIONS_STATEMENT_TIMEOUT = 30
    both = lint(with_table)

    assert rules(default) == [("002_add.up.sql", 1, "require-statement-timeout")]
    assert rules(no_lock_timeout) == [
        ("002_add.up.sql", 1, "require-lock-timeout"),
        ("002_add.up.sql", 1, "require-statement-timeout"),
    ]
    assert (both.code, rules(both)) == (1, [("002_add.up.sql", 1, "require-lock-timeout")])


def test_a_statement_timeout_the_session_already_has_counts(
    with_table: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    settings.SQLMIGRATIONS_STATEMENT_TIMEOUT = None  # the session's own
    migrations.pair("002_add", "ALTER TABLE t ADD COLUMN c text;\n", "ALTER TABLE t DROP c;")
    with_table.execute(f"ALTER DATABASE \"{with_table.name}\" SET statement_timeout = '1min'")

    result = lint(with_table)

    assert (result.code, result.out) == (0, "0 findings in 1 file.\n")


def test_a_no_transaction_file_is_linted_outside_a_transaction(
    with_table: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    """It runs statement by statement (squawk without --assume-in-transaction: a
    failed CONCURRENTLY leaves an invalid index, so a rerun must cope), and gets
    only the timeouts its own header sets."""
    migrations.pair(
        "002_index",
        "-- sqlmigrate: no-transaction\nCREATE INDEX CONCURRENTLY t_a_idx ON t (a);\n",
        "-- sqlmigrate: no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS t_a_idx;\n",
    )
    migrations.pair(
        "003_index",
        "-- sqlmigrate: no-transaction lock-timeout=2s statement-timeout=10min\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_id_a_idx ON t (id, a);\n",
        "DROP INDEX t_id_a_idx;",
    )

    result = lint(with_table)

    assert rules(result) == [
        ("002_index.up.sql", 2, "prefer-robust-stmts"),
        ("002_index.up.sql", 2, "require-lock-timeout"),
        ("002_index.up.sql", 2, "require-statement-timeout"),
    ]


def test_concurrently_in_a_transactional_file_is_found(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    """The same statement without the directive runs in a transaction, where
    PostgreSQL refuses it: squawk says so before anything runs. (squawk lets a file
    holding that statement alone pass, as some tools run such a file outside one.)"""
    migrations.pair(
        "002_index",
        "ALTER TABLE t ADD COLUMN IF NOT EXISTS b bigint;\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a_idx ON t (a);\n",
        "DROP INDEX t_a_idx;",
    )

    result = lint(with_table)

    assert rules(result) == [
        ("002_index.up.sql", 2, "ban-concurrent-index-creation-in-transaction"),
    ]


def test_the_servers_version_is_used_when_it_answers(
    with_table: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    """PostgreSQL 11+ adds a column with a non-volatile default without a rewrite."""
    migrations.pair(
        "002_add",
        "ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now();\n",
        "ALTER TABLE t DROP c;",
    )
    (number,) = with_table.query("SELECT current_setting('server_version_num')::int")[0]

    result = lint(with_table, "--format", "json")

    report = json.loads(result.out)
    assert report["pg_version"] == f"{number // 10000}.{number % 10000}"
    assert (result.code, report["findings"]) == (0, [])


def test_without_a_server_the_files_are_still_linted(
    migrations: MigrationFiles, postgres: TargetDatabase, settings: Any
) -> None:
    """--all and named files need no history: a server that does not answer only
    means squawk's default PostgreSQL version (and the session's timeouts unknown)."""
    migrations.pair("001_t", "CREATE INDEX t_a_idx ON t (a);\n", "SELECT 1;")
    rename = 'ALTER DATABASE "{}" RENAME TO "{}"'
    with pg_connection(POSTGRES_URL) as conn:
        pg_execute(conn, rename.format(postgres.name, f"{postgres.name}_gone"))
    try:
        result = lint(postgres, "--all", "-v", "2", "--format", "json")
        pending = lint(postgres)
    finally:
        with pg_connection(POSTGRES_URL) as conn:
            pg_execute(conn, rename.format(f"{postgres.name}_gone", postgres.name))

    report = json.loads(result.out)  # the whole output, even at -v 2
    assert result.code == 1
    assert report["pg_version"] is None
    assert [f["rule"] for f in report["findings"]] == ["require-concurrent-index-creation"]
    assert any(
        "the server's version was not read" in n and "does not exist" in n for n in report["notes"]
    )
    assert pending.code == 1
    assert pending.err.endswith(
        "(the pending files come from its history; --all or file arguments lint without it)"
    )


def test_the_file_the_runner_uses_for_postgresql_is_the_one_linted(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.write("001_t.up.sql", "CREATE TABLE t (id bigint PRIMARY KEY, code char(3));\n")
    migrations.write("001_t.postgresql.up.sql", "CREATE TABLE t (id int PRIMARY KEY);\n")
    migrations.write("001_t.sqlite.up.sql", "CREATE TABLE t (id int PRIMARY KEY, c char(3));\n")
    migrations.write("001_t.down.sql", "SELECT 1;\n")

    result = lint(postgres)

    assert rules(result) == [("001_t.postgresql.up.sql", 1, "prefer-bigint-over-int")]


def test_named_files_are_linted_as_given(
    postgres: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    migrations.pair("001_t", "CREATE TABLE t (id int PRIMARY KEY);\n", "DROP TABLE t;")
    other = tmp_path / "draft.sql"
    other.write_text("CREATE TABLE d (id bigint PRIMARY KEY, c char(2));\n")

    result = lint(postgres, str(other))

    assert rules(result) == [("draft.sql", 1, "ban-char-field")]
    assert result.err == "1 finding in 1 of 1 file."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.sql"], "missing.sql: cannot be read (No such file or directory)"),
        (["001_t.sqlite.up.sql"], "001_t.sqlite.up.sql is the sqlite variant"),
        (["--all", "x.sql"], "give either --all or files, not both"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    postgres: TargetDatabase, migrations: MigrationFiles, args: list[str], message: str
) -> None:
    migrations.pair("001_t", "SELECT 1;", "SELECT 1;")
    migrations.write("001_t.sqlite.up.sql", "SELECT 1;")
    args = [str(migrations.path / a) if a.endswith(".sql") else a for a in args]

    result = lint(postgres, *args)

    assert result.code == 2
    assert message in result.err
    assert len(result.err.splitlines()) == 1
    assert result.out == ""
