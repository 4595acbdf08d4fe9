"""Suppressing squawk's findings: per statement or per file in the SQL, each with a
reason, and project-wide in SQLMIGRATIONS_LINT_EXCLUDE."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import MigrationFiles, TargetDatabase, lint
from tests.test_lint import rules

pytestmark = pytest.mark.usefixtures("lint_settings")


TWO_INDEXES = (
    "CREATE INDEX t_a_idx ON t (a);\n"
    "-- sqlmigrate: allow require-concurrent-index-creation t is empty until 005 fills it\n"
    "CREATE INDEX t_id_a_idx\n"
    "    ON t (id, a);\n"
)


def test_an_allow_comment_covers_the_statement_after_it_only(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("002_indexes", TWO_INDEXES, "DROP INDEX t_a_idx;\nDROP INDEX t_id_a_idx;")

    result = lint(with_table)

    assert rules(result) == [("002_indexes.up.sql", 1, "require-concurrent-index-creation")]
    assert result.err == "1 finding in 1 of 1 file, 1 suppressed."


def test_an_allow_comment_inside_a_statement_covers_that_statement(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "002_index",
        "CREATE INDEX t_a_idx ON t (a)\n"
        "  -- sqlmigrate: allow require-concurrent-index-creation t is still empty\n"
        ";\nCREATE INDEX t_id_idx ON t (id);\n",
        "DROP INDEX t_a_idx;",
    )

    result = lint(with_table)

    assert rules(result) == [("002_index.up.sql", 4, "require-concurrent-index-creation")]


def test_allow_file_covers_every_statement_and_several_rules(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "002_retire",
        "-- sqlmigrate: allow-file ban-drop-column,renaming-column no client reads t any more\n"
        "ALTER TABLE t DROP COLUMN a;\n"
        "ALTER TABLE t RENAME COLUMN id TO old_id;\n"
        "CREATE TABLE u (id int PRIMARY KEY);\n",
        "DROP TABLE u;",
    )

    result = lint(with_table)

    assert rules(result) == [("002_retire.up.sql", 4, "prefer-bigint-over-int")]


def test_an_allow_without_a_reason_is_a_finding_itself(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "002_index",
        "-- sqlmigrate: allow require-concurrent-index-creation\nCREATE INDEX t_a_idx ON t (a);\n",
        "DROP INDEX t_a_idx;",
    )

    result = lint(with_table)

    assert result.code == 1
    assert rules(result) == [("002_index.up.sql", 1, "sqlmigrate-allow")]
    assert (
        ": sqlmigrate-allow: '-- sqlmigrate: allow' require-concurrent-index-creation gives "
        "no reason\n  help: write why the rule does not apply here after the rule's name\n"
    ) in result.out


def test_an_allow_naming_no_rule_squawk_knows_is_a_finding(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "002_index",
        "-- sqlmigrate: allow require-concurent-index-creation the table is empty\n"
        "CREATE INDEX t_a_idx ON t (a);\n",
        "DROP INDEX t_a_idx;",
    )

    result = lint(with_table)

    assert rules(result) == [
        ("002_index.up.sql", 1, "sqlmigrate-allow"),
        ("002_index.up.sql", 2, "require-concurrent-index-creation"),
    ]
    assert "require-concurent-index-creation is not a squawk rule" in result.out


def test_suppressions_are_listed_at_verbosity_2(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "002_indexes",
        TWO_INDEXES + "-- sqlmigrate: allow ban-drop-table nothing is dropped here any more\n",
        "SELECT 1;",
    )
    path = migrations.path / "002_indexes.up.sql"

    result = lint(with_table, "-v", "2")

    assert (
        f"  suppressed: {path}:3: require-concurrent-index-creation, by the allow at line 2: "
        "t is empty until 005 fills it\n"
    ) in result.out
    assert (
        f"  unused: {path}:5: allow ban-drop-table (statement): nothing is dropped here any more\n"
    ) in result.out


def test_the_comment_is_no_directive_for_the_runner(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    """A '-- sqlmigrate:' line after the header is otherwise refused (exit 2)."""
    migrations.pair("002_indexes", TWO_INDEXES, "DROP INDEX t_a_idx;\nDROP INDEX t_id_a_idx;")

    result = with_table.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert with_table.applied() == [1, 2]


def test_squawks_own_ignore_comments_still_work(
    with_table: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "002_index",
        "-- squawk-ignore require-concurrent-index-creation\nCREATE INDEX t_a_idx ON t (a);\n",
        "DROP INDEX t_a_idx;",
    )

    assert lint(with_table).code == 0


def test_project_wide_exclusions_with_reasons(
    with_table: TargetDatabase, migrations: MigrationFiles, settings: Any
) -> None:
    migrations.pair("002_u", "CREATE TABLE u (id int PRIMARY KEY, c char(2));\n", "DROP TABLE u;")
    settings.SQLMIGRATIONS_LINT_EXCLUDE = {"prefer-bigint-over-int": "u holds a few rows"}

    result = lint(with_table, "--format", "json")

    report = json.loads(result.out)
    assert [f["rule"] for f in report["findings"]] == ["ban-char-field"]
    assert "prefer-bigint-over-int is excluded project-wide: u holds a few rows" in report["notes"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["ban-char-field"], "SQLMIGRATIONS_LINT_EXCLUDE must be a dict of squawk rule names"),
        ({"ban-char-field": ""}, "SQLMIGRATIONS_LINT_EXCLUDE must be a dict of squawk rule names"),
        (
            {"ban-chars": "typo"},
            "SQLMIGRATIONS_LINT_EXCLUDE names ban-chars, which is not a squawk rule",
        ),
    ],
)
def test_a_bad_exclusion_setting_exits_2(
    with_table: TargetDatabase, migrations: MigrationFiles, settings: Any, value: Any, message: str
) -> None:
    migrations.pair("002_u", "CREATE TABLE u (id bigint PRIMARY KEY);\n", "DROP TABLE u;")
    settings.SQLMIGRATIONS_LINT_EXCLUDE = value

    result = lint(with_table)

    assert (result.code, result.out) == (2, "")
    assert message in result.err
    assert len(result.err.splitlines()) == 1
