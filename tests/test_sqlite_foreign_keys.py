"""SQLite: a table rebuild keeps its children's rows; a migration leaving orphans is refused.

SQLite ignores ``PRAGMA foreign_keys`` inside a transaction, so the runner turns
enforcement off around each migration's transaction (as Django's schema editor
does) and checks the foreign keys itself before COMMIT.
"""

from __future__ import annotations

import pytest

from tests.conftest import MigrationFiles, TargetDatabase

pytestmark = pytest.mark.parametrize("target", ["sqlite"], indirect=True)

SCHEMA = """
CREATE TABLE parent (id integer PRIMARY KEY, name text);
CREATE TABLE child (id integer PRIMARY KEY,
                    parent_id integer NOT NULL REFERENCES parent (id) ON DELETE CASCADE);
CREATE TABLE grandchild (id integer PRIMARY KEY,
                         child_id integer NOT NULL REFERENCES child (id) ON DELETE CASCADE);
INSERT INTO parent VALUES (1, 'a'), (2, 'b');
INSERT INTO child VALUES (10, 1), (11, 1), (12, 2);
INSERT INTO grandchild VALUES (100, 10), (101, 12);
"""

# SQLite's documented way to change a table: make the new one, copy, drop, rename.
REBUILD = """
CREATE TABLE new_parent (id integer PRIMARY KEY, name text NOT NULL DEFAULT '');
INSERT INTO new_parent (id, name) SELECT id, name FROM parent;
DROP TABLE parent;
ALTER TABLE new_parent RENAME TO parent;
"""


def test_rebuilding_a_parent_table_keeps_every_child_row(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_schema", SCHEMA, "DROP TABLE grandchild; DROP TABLE child; DROP TABLE parent;"
    )
    migrations.pair("002_rebuild_parent", REBUILD, "SELECT 1;")

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.query("SELECT id FROM child ORDER BY id") == [(10,), (11,), (12,)]
    assert target.query("SELECT id FROM grandchild ORDER BY id") == [(100,), (101,)]
    assert target.query("SELECT id, name FROM parent ORDER BY id") == [(1, "a"), (2, "b")]
    assert target.run("sqlmigrate_down", "--noinput", "--no-backup").code == 0
    assert target.applied() == [1]


def test_a_migration_leaving_orphans_is_refused_and_rolled_back(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("001_schema", SCHEMA, "SELECT 1;")
    migrations.pair(
        "002_orphans",
        "INSERT INTO child VALUES (20, 99), (21, 98);\nUPDATE parent SET name = 'changed';\n",
        "SELECT 1;",
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 1
    first = result.err.splitlines()[0]
    assert first.startswith("002_orphans.up.sql: foreign key check failed before COMMIT")
    assert "2 rows of child reference missing rows of parent (rowid 20, 21)" in first
    assert "Applied before the failure: 001_schema." in result.err
    assert "Not applied (rolled back or not started): 002_orphans." in result.err
    assert target.applied() == [1]
    assert target.query("SELECT count(*) FROM child") == [(3,)]
    assert target.query("SELECT DISTINCT name FROM parent ORDER BY 1") == [("a",), ("b",)]


def test_deleting_a_parent_in_a_migration_is_refused_rather_than_half_cascaded(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    # With enforcement off, ON DELETE CASCADE does not fire during a migration (as
    # under Django's migrate): the check names the rows left behind instead.
    migrations.pair("001_schema", SCHEMA, "SELECT 1;")
    migrations.pair("002_delete_parent", "DELETE FROM parent WHERE id = 2;", "SELECT 1;")

    result = target.run("sqlmigrate_up")

    assert result.code == 1
    assert "1 row of child references missing rows of parent (rowid 12)" in result.err
    assert target.query("SELECT count(*) FROM parent") == [(2,)]
