"""sqlmigrate_repair accepts drift consciously; manage.py check validates files."""

from __future__ import annotations

from tests.conftest import MigrationFiles, TargetDatabase, manage


def test_repair_accepts_a_changed_file_and_unblocks_up(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0
    migrations.write(
        "001_create_a.up.sql", "CREATE TABLE a (id integer PRIMARY KEY); -- reviewed\n"
    )
    migrations.table(2, "b")
    assert target.run("sqlmigrate_up").code == 2

    preview = target.run("sqlmigrate_repair", "--dry-run")
    assert preview.code == 0
    assert "Would repair" in preview.out
    assert target.run("sqlmigrate_up").code == 2  # the dry run changed nothing

    result = target.run("sqlmigrate_repair")
    assert result.code == 0, result.output
    assert "Accepted the new content of 001_create_a (checksum " in result.out

    up = target.run("sqlmigrate_up")
    assert up.code == 0, up.output
    assert target.applied() == [1, 2]
    assert (
        target.run("sqlmigrate_repair").out == "Nothing to repair: the history matches the files.\n"
    )


def test_repair_forgets_a_migration_whose_files_are_gone(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")
    assert target.run("sqlmigrate_up").code == 0
    for path in migrations.path.glob("002_*"):
        path.unlink()

    result = target.run("sqlmigrate_repair")

    assert result.code == 0, result.output
    assert "Forgot 002_create_b: its files are gone" in result.out
    assert target.applied() == [1]
    assert target.user_tables() == {"a", "b"}
    assert target.run("sqlmigrate_status", "--check").code == 0


def test_manage_py_check_reports_invalid_files_without_a_database(
    migrations: MigrationFiles,
) -> None:
    migrations.table(1, "a")
    migrations.write("002_lonely.up.sql", "SELECT 1;")
    migrations.write("notes.sql", "SELECT 1;")
    # A database that cannot be reached: the check must not need it.
    url = "postgres://nobody@127.0.0.1:1/none"

    result = manage("check", database_url=url, migrations_dir=migrations.path)

    assert result.code == 1
    assert "sqlmigrations.E001" in result.err
    assert "002_lonely.up.sql has no matching .down.sql file" in result.err
    assert "notes.sql: bad file name" in result.err
    assert "cannot connect" not in result.err


def test_manage_py_check_passes_on_the_backend_files() -> None:
    result = manage("check")

    assert result.code == 0, result.output
    assert "System check identified no issues" in result.out
