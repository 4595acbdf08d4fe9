"""Invalid migration sets are refused before the database is touched (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import MigrationFiles, TargetDatabase


def assert_refused_untouched(target: TargetDatabase, command: str = "sqlmigrate_up") -> str:
    result = target.run(command)
    assert result.code == 2, result.output
    assert "Traceback" not in result.output
    assert target.tables() == set()
    return result.err


def test_duplicate_version_is_refused(target: TargetDatabase, migrations: MigrationFiles) -> None:
    migrations.table(1, "a")
    migrations.pair("0001_other", "SELECT 1;", "SELECT 1;")

    err = assert_refused_untouched(target)

    assert err.startswith("version 1 is used by more than one migration: ")
    assert "001_create_a.down.sql" in err and "0001_other.down.sql" in err


def test_up_without_down_is_refused(target: TargetDatabase, migrations: MigrationFiles) -> None:
    path = migrations.write("001_lonely.up.sql", "SELECT 1;")

    err = assert_refused_untouched(target)

    assert err == f"{path} has no matching .down.sql file"


def test_down_without_up_is_refused(target: TargetDatabase, migrations: MigrationFiles) -> None:
    path = migrations.write("001_lonely.down.sql", "SELECT 1;")

    err = assert_refused_untouched(target)

    assert err == f"{path} has no matching .up.sql file"


@pytest.mark.parametrize(
    "name",
    [
        "create_users.up.sql",
        "001-create.up.sql",
        "001_create.sql",
        "001_bad name.up.sql",
        "x1_a.up.sql",
    ],
)
def test_malformed_file_name_is_refused(
    target: TargetDatabase, migrations: MigrationFiles, name: str
) -> None:
    migrations.table(1, "a")
    path = migrations.write(name, "SELECT 1;")

    err = assert_refused_untouched(target)

    assert err.startswith(f"{path}: bad file name, expected NNN_description.up.sql")


def test_non_utf8_file_is_refused(target: TargetDatabase, migrations: MigrationFiles) -> None:
    path = migrations.write(
        "001_latin1.up.sql", "SELECT 1;\nINSERT INTO t VALUES ('café');".encode("latin-1")
    )
    migrations.write("001_latin1.down.sql", "SELECT 1;")

    err = assert_refused_untouched(target)

    assert err == f"{path}:2: not valid UTF-8 (byte 37 of the file)"


def test_missing_directory_is_refused(
    target: TargetDatabase, settings: object, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    settings.SQLMIGRATIONS_DIRS = [missing]  # type: ignore[attr-defined]

    err = assert_refused_untouched(target)

    assert err == f"migrations directory {missing} does not exist"


def test_no_directories_configured_is_refused(target: TargetDatabase, settings: object) -> None:
    settings.SQLMIGRATIONS_DIRS = []  # type: ignore[attr-defined]

    err = assert_refused_untouched(target, "sqlmigrate_status")

    assert "no migration directories are configured for database 'target'" in err


def test_every_problem_is_listed_at_once(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.write("001_a.up.sql", "SELECT 1;")
    migrations.write("oops.sql", "SELECT 1;")

    err = assert_refused_untouched(target)

    assert len(err.splitlines()) == 2


def test_other_files_in_the_directory_are_ignored(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.write("README.md", "notes")
    migrations.write(".001_hidden.up.sql", "garbage")

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.applied() == [1]


def test_several_directories_merge_into_one_ordered_set(
    target: TargetDatabase, tmp_path: Path, settings: object
) -> None:
    first, second = MigrationFiles(tmp_path / "one"), MigrationFiles(tmp_path / "two")
    first.table(1, "a")
    second.table(2, "b")
    first.table(3, "c")
    settings.SQLMIGRATIONS_DIRS = [first.path, second.path]  # type: ignore[attr-defined]

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert result.out.index("002_create_b") < result.out.index("003_create_c")
    assert target.applied() == [1, 2, 3]


def test_per_database_directories_win_over_the_default(
    target: TargetDatabase, tmp_path: Path, settings: object, migrations: MigrationFiles
) -> None:
    migrations.table(1, "default_set")
    own = MigrationFiles(tmp_path / "own")
    own.table(1, "own_set")
    settings.SQLMIGRATIONS_DATABASE_DIRS = {"target": [own.path]}  # type: ignore[attr-defined]

    assert target.run("sqlmigrate_up").code == 0

    assert target.user_tables() == {"own_set"}


def test_vendor_variant_is_picked_for_the_connection(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_flags",
        "CREATE TABLE generic (id integer);",
        "DROP TABLE generic;",
    )
    migrations.pair(
        "001_flags.sqlite",
        "CREATE TABLE only_sqlite (id integer);",
        "DROP TABLE only_sqlite;",
    )

    assert target.run("sqlmigrate_up").code == 0

    expected = "only_sqlite" if target.vendor == "sqlite" else "generic"
    assert target.user_tables() == {expected}
    assert target.run("sqlmigrate_down", "--noinput").code == 0
    assert target.user_tables() == set()


def test_version_with_no_file_for_this_vendor_is_refused(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    other = "sqlite" if target.vendor == "postgresql" else "postgresql"
    migrations.pair(f"001_only.{other}", "SELECT 1;", "SELECT 1;")

    err = assert_refused_untouched(target)

    assert err.startswith(f"version 1 (001_only) has no file for {target.vendor}")


def test_vendor_up_file_can_share_the_generic_down_file(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.write("001_t.up.sql", "CREATE TABLE t (id integer);")
    migrations.write("001_t.sqlite.up.sql", "CREATE TABLE t (id integer, only_sqlite text);")
    migrations.write("001_t.down.sql", "DROP TABLE t;")

    assert target.run("sqlmigrate_up").code == 0
    assert target.run("sqlmigrate_down", "--noinput").code == 0

    assert target.user_tables() == set()


def test_vendor_down_file_without_any_up_is_refused(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(2, "b")
    path = migrations.write("001_t.sqlite.down.sql", "DROP TABLE t;")

    err = assert_refused_untouched(target)

    assert err == f"{path} has no matching .up.sql file"
