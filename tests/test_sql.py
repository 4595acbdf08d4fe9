"""Statement splitting: each database's own lexer, checked against the real database."""

from __future__ import annotations

import pytest

from sqlmigrations.sql import SqlSyntaxError, split_statements
from tests.conftest import MigrationFiles, TargetDatabase

POSTGRES_TRICKY = """\
-- a comment; with a semicolon
CREATE TABLE t (id serial PRIMARY KEY, v text);

/* block comment; also with one */
CREATE FUNCTION add_row(x text) RETURNS void AS $$
BEGIN
    INSERT INTO t (v) VALUES (x || ';');
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION tagged() RETURNS text AS $body$ SELECT 'a;b'::text; $body$ LANGUAGE sql;
INSERT INTO t (v) VALUES (E'escaped \\' quote; here');
INSERT INTO t (v) VALUES ('plain; literal');
SELECT add_row('from function');
INSERT INTO t (v) SELECT tagged()
"""

SQLITE_TRICKY = """\
-- a comment; with a semicolon
CREATE TABLE t (id integer PRIMARY KEY, v text);
CREATE TABLE audit (v text);

/* block comment; also with one */
CREATE TRIGGER t_audit AFTER INSERT ON t
BEGIN
    INSERT INTO audit (v) VALUES ('row;' || NEW.v);
END;
INSERT INTO t (v) VALUES ('it''s; quoted');
INSERT INTO t (v) VALUES ('plain; literal')
"""


def test_postgresql_split_keeps_bodies_literals_and_comments_intact() -> None:
    statements = split_statements(POSTGRES_TRICKY, "postgresql")

    assert [s.line for s in statements] == [2, 5, 11, 12, 13, 14, 15]
    assert statements[1].sql.endswith("$$ LANGUAGE plpgsql")
    assert "INSERT INTO t (v) VALUES (x || ';');" in statements[1].sql


def test_sqlite_split_keeps_trigger_bodies_and_literals_intact() -> None:
    statements = split_statements(SQLITE_TRICKY, "sqlite")

    assert [s.line for s in statements] == [2, 3, 6, 10, 11]
    assert statements[2].sql.startswith("CREATE TRIGGER")
    assert statements[2].sql.endswith("END;")


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
@pytest.mark.parametrize("text", ["", "\n\n", "-- nothing but a comment\n", "/* x; */ ;\n"])
def test_files_with_no_statements_split_to_nothing(vendor: str, text: str) -> None:
    assert split_statements(text, vendor) == []


def test_postgresql_syntax_error_has_the_line() -> None:
    with pytest.raises(SqlSyntaxError) as caught:
        split_statements("SELECT 1;\n\nSELEC 2;\n", "postgresql")

    assert caught.value.line == 3
    assert caught.value.message == 'syntax error at or near "SELEC"'


def test_tricky_postgresql_file_runs_as_written(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("001_tricky", POSTGRES_TRICKY, "DROP TABLE t;\nDROP FUNCTION add_row, tagged;")

    result = postgres.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert sorted(v for (v,) in postgres.query("SELECT v FROM t")) == [
        "a;b",
        "escaped ' quote; here",
        "from function;",
        "plain; literal",
    ]


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_tricky_sqlite_file_runs_as_written(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("001_tricky", SQLITE_TRICKY, "DROP TABLE t;\nDROP TABLE audit;")

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert sorted(target.query("SELECT v FROM audit")) == [
        ("row;it's; quoted",),
        ("row;plain; literal",),
    ]


def test_empty_migration_is_applied_and_recorded(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("001_empty", "-- placeholder, nothing to do yet\n", "")

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.applied() == [1]
    assert target.run("sqlmigrate_down", "--noinput").code == 0
    assert target.applied() == []
