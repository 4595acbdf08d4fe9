"""sqlmigrate_import: another runner's migrations directory, generated here in each
runner's shape, becomes this app's files; the converted set applies, rolls back fully
and re-applies with identical schemas on both databases."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MigrationFiles, TargetDatabase
from tests.test_foreign_names import schema


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


GOLANG_MIGRATE = {
    "000001_create_channels.up.sql": "CREATE TABLE channels (id integer PRIMARY KEY);\n",
    "000001_create_channels.down.sql": "DROP TABLE channels;\n",
    # The whole file is one transaction of its own: BEGIN and COMMIT go.
    "000002_add_topic.up.sql": (
        "-- topic column\nBEGIN;\nALTER TABLE channels ADD COLUMN topic varchar(250);\nCOMMIT;\n"
    ),
    "000002_drop_topic.down.sql": "BEGIN;\nALTER TABLE channels DROP COLUMN topic;\nCOMMIT;\n",
    "000056_upgrade_v6.0.up.sql": "CREATE TABLE members (channel_id integer, user_id integer);\n",
    "000056_upgrade_v6.0.down.sql": "DROP TABLE members;\n",
    # Two transactions of its own: it becomes a no-transaction file.
    "57_two_steps.up.sql": (
        "BEGIN;\nCREATE TABLE audit (id integer);\nCOMMIT;\n"
        "BEGIN;\nCREATE INDEX audit_id ON audit (id);\nCOMMIT;\n"
    ),
    "57_two_steps.down.sql": "DROP TABLE audit;\n",
    "README.md": "not a migration\n",
}


def converted(target: TargetDatabase, migrations: MigrationFiles) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(migrations.path.iterdir())}


def round_trip(target: TargetDatabase, expected_tables: set[str]) -> None:
    up = target.run("sqlmigrate_up")
    assert up.code == 0, up.output
    applied = schema(target)
    assert target.user_tables() == expected_tables
    down = target.run("sqlmigrate_down", "--noinput", "--target", "0")
    assert down.code == 0, down.output
    assert target.user_tables() == set()
    again = target.run("sqlmigrate_up")
    assert again.code == 0, again.output
    assert schema(target) == applied
    status = target.run("sqlmigrate_status")
    assert status.code == 0, status.output


def test_a_golang_migrate_set(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    source = write(tmp_path / "golang", GOLANG_MIGRATE)

    result = target.run("sqlmigrate_import", str(source), "--from-format", "golang-migrate")
    assert result.code == 0, result.output
    files = converted(target, migrations)
    assert sorted(files) == [
        "000001_create_channels.down.sql",
        "000001_create_channels.up.sql",
        "000002_add_topic.down.sql",
        "000002_add_topic.up.sql",
        "000056_upgrade_v6.0.down.sql",
        "000056_upgrade_v6.0.up.sql",
        "57_two_steps.down.sql",
        "57_two_steps.up.sql",
    ]
    assert files["000002_add_topic.up.sql"] == (
        "-- topic column\nALTER TABLE channels ADD COLUMN topic varchar(250);\n"
    )
    assert files["57_two_steps.up.sql"].startswith("-- sqlmigrate: no-transaction\nBEGIN;\n")
    assert "  000002_add_topic.down.sql <- 000002_drop_topic.down.sql" in result.out
    assert "BEGIN (line 2) and COMMIT (line 4) removed" in result.out
    assert "made a no-transaction file: it manages its own transactions" in result.out
    assert "README.md: not a golang-migrate migration file name" in result.out

    round_trip(target, {"channels", "members", "audit"})


DBMATE = {
    "20240101120000_create_channels.sql": (
        "-- migrate:up\nCREATE TABLE channels (id integer PRIMARY KEY);\n\n"
        "-- migrate:down\nDROP TABLE channels;\n"
    ),
    "20240102120000_index channels.sql": (
        "-- migrate:up transaction:false\nCREATE INDEX channels_id ON channels (id);\n"
        "-- migrate:down transaction:false\nDROP INDEX channels_id;\n"
    ),
}


def test_a_dbmate_set(target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path) -> None:
    source = write(tmp_path / "db" / "migrations", DBMATE)

    result = target.run("sqlmigrate_import", str(source))  # recognised by its sections
    assert result.code == 0, result.output
    files = converted(target, migrations)
    assert files["20240101120000_create_channels.down.sql"] == "DROP TABLE channels;\n"
    assert files["20240102120000_index_channels.up.sql"] == (
        "-- sqlmigrate: no-transaction\nCREATE INDEX channels_id ON channels (id);\n"
    )
    assert "description 'index channels' written as 'index_channels'" in result.out
    assert "transaction:false: made a no-transaction file" in result.out

    round_trip(target, {"channels"})


FLYWAY = {
    "V1__Create_channels.sql": "CREATE TABLE channels (id integer PRIMARY KEY);\n",
    "U1__Create_channels.sql": "DROP TABLE channels;\n",
    "V2__Index.sql": "CREATE INDEX channels_id ON channels (id);\n",
    "V2__Index.sql.conf": "executeInTransaction=false\n",
    "U2__Index.sql": "DROP INDEX channels_id;\n",
    "R__views.sql": "CREATE VIEW v AS SELECT 1 AS one;\n",
}


def test_a_flyway_set(target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path) -> None:
    source = write(tmp_path / "flyway", FLYWAY)

    result = target.run("sqlmigrate_import", str(source))
    assert result.code == 0, result.output
    files = converted(target, migrations)
    assert sorted(files) == [
        "001_Create_channels.down.sql",
        "001_Create_channels.up.sql",
        "002_Index.down.sql",
        "002_Index.up.sql",
    ]
    assert files["002_Index.up.sql"].startswith("-- sqlmigrate: no-transaction\n")
    assert "R__views.sql: a repeatable migration: it has no version, so it is not imported" in (
        result.out
    )

    round_trip(target, {"channels"})


def test_a_flyway_migration_with_no_undo_file_cannot_be_rolled_back_silently(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    source = write(tmp_path / "flyway", {"V1__channels.sql": "CREATE TABLE channels (id int);\n"})

    result = target.run("sqlmigrate_import", str(source), "--from-format", "flyway")
    assert result.code == 0, result.output
    assert "no down migration" in result.out
    assert target.run("sqlmigrate_up").code == 0

    down = target.run("sqlmigrate_down", "--noinput")
    assert down.code == 1, down.output
    assert "V1__channels.sql had no Flyway undo file (U1__channels.sql)" in down.err
    assert target.applied() == [1]
    assert target.user_tables() == {"channels"}


def test_a_node_runner_set_is_copied(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    files = {
        "001_channels.up.sql": "CREATE TABLE channels (id integer);\n",
        "001_channels.down.sql": "DROP TABLE channels;\n",
        "002_members.up.sql": "CREATE TABLE members (id integer);\n",
        "002_members.down.sql": "DROP TABLE members;\n",
    }
    source = write(tmp_path / "node", files)

    result = target.run("sqlmigrate_import", str(source), "--from-format", "node")
    assert result.code == 0, result.output
    assert converted(target, migrations) == files

    round_trip(target, {"channels", "members"})


def test_dry_run_writes_nothing_and_nothing_is_overwritten(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    source = write(tmp_path / "golang", GOLANG_MIGRATE)
    args = ("sqlmigrate_import", str(source), "--from-format", "golang-migrate")

    dry = target.run(*args, "--dry-run")
    assert dry.code == 0, dry.output
    assert "Would write (dry run, nothing is written)" in dry.out
    assert "000001_create_channels.up.sql" in dry.out
    assert list(migrations.path.iterdir()) == []

    migrations.write("000056_upgrade_v6.0.down.sql", "-- mine\n")
    again = target.run(*args)
    assert again.code == 2, again.output
    assert "000056_upgrade_v6.0.down.sql: already exists; nothing was written" in again.err
    assert [p.name for p in migrations.path.iterdir()] == ["000056_upgrade_v6.0.down.sql"]
    assert (migrations.path / "000056_upgrade_v6.0.down.sql").read_text() == "-- mine\n"


def test_a_version_taken_under_another_name_is_refused(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    migrations.table(1, "mine")
    source = write(tmp_path / "golang", GOLANG_MIGRATE)

    result = target.run("sqlmigrate_import", str(source), "--from-format", "golang-migrate")
    assert result.code == 2, result.output
    assert "version 1 is already 001_create_mine" in result.err
    assert len(list(migrations.path.iterdir())) == 2


def test_formats_are_recognised_or_the_ambiguity_is_named(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    pairs = write(tmp_path / "pairs", {"1_a.up.sql": "SELECT 1;\n", "1_a.down.sql": "SELECT 1;\n"})
    result = target.run("sqlmigrate_import", str(pairs))
    assert result.code == 2, result.output
    assert "the layout of both golang-migrate and the Node runner" in result.err
    assert "--from-format" in result.err

    mixed = write(tmp_path / "mixed", {**FLYWAY, **DBMATE})
    result = target.run("sqlmigrate_import", str(mixed))
    assert result.code == 2, result.output
    assert "holds files of more than one runner: dbmate" in result.err

    missing = target.run("sqlmigrate_import", str(tmp_path / "nowhere"))
    assert missing.code == 2
    assert "is not a directory" in missing.err
    assert list(migrations.path.iterdir()) == []


def test_a_dotted_flyway_version_stops_the_import(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    source = write(tmp_path / "flyway", {"V1.1__x.sql": "SELECT 1;\n", "V2__y.sql": "SELECT 1;\n"})
    result = target.run("sqlmigrate_import", str(source))
    assert result.code == 2, result.output
    assert "V1.1__x.sql: version '1.1' is not a whole number from 1 to" in result.err
    assert list(migrations.path.iterdir()) == []


def test_unreadable_and_odd_files_are_named_without_a_traceback(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "golang", {"1_a.up.sql": "SELECT 1;\n", "1_a.down.sql": "SELECT 1;\n"}
    )
    (source / "2_b.up.sql").write_bytes(b"SELECT '\xff';\n")
    (source / "2_b.down.sql").write_text("SELECT 1;\n")
    os.mkfifo(source / "3_c.up.sql")
    args = ("sqlmigrate_import", str(source), "--from-format", "golang-migrate")

    result = target.run(*args)
    assert result.code == 2, result.output
    assert "2_b.up.sql: not UTF-8 (byte 8); save it as UTF-8" in result.err
    assert "Traceback" not in result.output
    assert list(migrations.path.iterdir()) == []

    (source / "2_b.up.sql").write_text("SELECT 2;\n")
    result = target.run(*args)
    assert result.code == 0, result.output
    assert "3_c.up.sql: not a regular file" in result.out


def test_a_target_that_cannot_be_made_writes_nothing(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    source = write(tmp_path / "node", {"1_a.up.sql": "SELECT 1;\n", "1_a.down.sql": "SELECT 1;\n"})
    (tmp_path / "file").write_text("")

    result = target.run(
        "sqlmigrate_import",
        str(source),
        "--from-format",
        "node",
        "--to",
        str(tmp_path / "file" / "x"),
    )
    assert result.code == 2, result.output
    assert result.err == f"{tmp_path / 'file'} is not a directory; nothing was written"
    assert result.out == ""  # no "Writing:" list of files that were never written
    assert (tmp_path / "file").read_text() == ""


def test_a_target_that_is_a_file_or_a_dangling_symlink_is_bad_input(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    source = write(tmp_path / "node", {"1_a.up.sql": "SELECT 1;\n", "1_a.down.sql": "SELECT 1;\n"})
    (tmp_path / "file").write_text("kept")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")

    for to in (tmp_path / "file", tmp_path / "dangling"):
        result = target.run(
            "sqlmigrate_import", str(source), "--from-format", "node", "--to", str(to)
        )
        assert result.code == 2, result.output
        assert result.err == f"{to} is not a directory; nothing was written"
        assert result.out == ""
    assert (tmp_path / "file").read_text() == "kept"
    assert not (tmp_path / "nowhere").exists()


def test_a_write_that_fails_leaves_no_file_and_no_directory_it_made(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    """dbmate's one file becomes two with longer names: one too long for the file system
    fails after the directories and the other files were made; all of them go again."""
    long = "x" * 233  # 252 bytes as dbmate names it; its .down.sql needs 257
    source = write(
        tmp_path / "dbmate",
        {
            "20200101000000_a.sql": "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n",
            f"20200102000000_{long}.sql": "-- migrate:up\nSELECT 1;\n-- migrate:down\nSELECT 1;\n",
        },
    )
    to = tmp_path / "new" / "deeper"

    result = target.run(
        "sqlmigrate_import", str(source), "--from-format", "dbmate", "--to", str(to)
    )

    assert result.code == 2, result.output
    assert "no file was written" in result.err and "\n" not in result.err
    assert "Traceback" not in result.output
    assert not (tmp_path / "new").exists()


def test_a_transaction_false_file_keeps_its_own_transaction(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    body = "BEGIN;\nCREATE TABLE a (id integer);\nCOMMIT;\n"
    source = write(
        tmp_path / "db",
        {"1_a.sql": f"-- migrate:up transaction:false\n{body}-- migrate:down\nDROP TABLE a;\n"},
    )

    result = target.run("sqlmigrate_import", str(source))
    assert result.code == 0, result.output
    assert (migrations.path / "1_a.up.sql").read_text() == (
        "-- sqlmigrate: no-transaction\n" + body
    )
    assert target.run("sqlmigrate_up").code == 0
    assert target.user_tables() == {"a"}


def test_a_missing_down_message_with_quotes_and_dollars_still_fails_with_it(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    name = "V1__it's_$$_$sqlmigrate$.sql"
    source = write(tmp_path / "flyway", {name: "CREATE TABLE a (id integer);\n"})

    assert target.run("sqlmigrate_import", str(source)).code == 0
    assert target.run("sqlmigrate_up").code == 0
    down = target.run("sqlmigrate_down", "--noinput")
    assert down.code == 1, down.output
    assert f"{name} had no Flyway undo file" in down.err
    assert target.user_tables() == {"a"}


def test_a_statement_that_cannot_run_in_a_transaction_makes_a_no_transaction_file(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    # golang-migrate and Flyway run such a file outside a transaction.
    statement = (
        "CREATE INDEX CONCURRENTLY a_id ON a (id);" if target.vendor == "postgresql" else "VACUUM;"
    )
    source = write(
        tmp_path / "golang",
        {
            "1_a.up.sql": "CREATE TABLE a (id integer);\n",
            "1_a.down.sql": "DROP TABLE a;\n",
            "2_index.up.sql": f"-- big table\n{statement}\n",
            "2_index.down.sql": "SELECT 1;\n",
        },
    )

    result = target.run("sqlmigrate_import", str(source), "--from-format", "golang-migrate")
    assert result.code == 0, result.output
    assert "cannot run in a transaction (the other runner ran it outside one)" in result.out
    assert (migrations.path / "2_index.up.sql").read_text() == (
        f"-- sqlmigrate: no-transaction\n-- big table\n{statement}\n"
    )
    up = target.run("sqlmigrate_up")
    assert up.code == 0, up.output


DBMATE_FILE = "-- migrate:up\nCREATE TABLE {0} (id integer);\n-- migrate:down\nDROP TABLE {0};\n"


@pytest.mark.parametrize(
    ("fmt", "files", "message"),
    [
        pytest.param(
            "flyway",
            {"V05__first.sql": "SELECT 1;\n", "V5__second.sql": "SELECT 2;\n"},
            "V5__second.sql: version 5 is also V05__first.sql",
            id="flyway-two-V-files",
        ),
        pytest.param(
            "flyway",
            {"V1__a.sql": "SELECT 1;\n", "U1__a.sql": "SELECT 1;\n", "U01__a.sql": "SELECT 2;\n"},
            "U1__a.sql: version 1 is also U01__a.sql",
            id="flyway-two-undo-files",
        ),
        pytest.param(
            "dbmate",
            {"1_a.sql": DBMATE_FILE.format("a"), "01_b.sql": DBMATE_FILE.format("b")},
            "version 1 is also",
            id="dbmate-two-files",
        ),
        pytest.param(
            "dbmate",
            {
                "1_a.sql": "-- migrate:up\nCREATE TABLE a (id integer);\n"
                "-- migrate:up\nCREATE TABLE b (id integer);\n-- migrate:down\nDROP TABLE a;\n"
            },
            "1_a.sql: more than one '-- migrate:up' section",
            id="dbmate-two-up-sections",
        ),
    ],
)
def test_one_version_twice_is_refused_not_silently_dropped(
    target: TargetDatabase,
    migrations: MigrationFiles,
    tmp_path: Path,
    fmt: str,
    files: dict[str, str],
    message: str,
) -> None:
    source = write(tmp_path / fmt, files)

    result = target.run("sqlmigrate_import", str(source), "--from-format", fmt)

    assert result.code == 2, result.output
    assert message in result.err
    assert list(migrations.path.iterdir()) == []


def test_a_version_taken_in_another_of_the_databases_directories_is_refused(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path, settings: Any
) -> None:
    """The runner merges every configured directory into one set: a version already in
    the other one would make a set it refuses."""
    other = MigrationFiles(tmp_path / "other")
    other.table(1, "taken")
    settings.SQLMIGRATIONS_DIRS = [migrations.path, other.path]
    source = write(tmp_path / "node", {"1_a.up.sql": "SELECT 1;\n", "1_a.down.sql": "SELECT 1;\n"})

    result = target.run(
        "sqlmigrate_import", str(source), "--from-format", "node", "--to", str(migrations.path)
    )

    assert result.code == 2, result.output
    assert f"version 1 is already 001_create_taken.down.sql in {other.path}" in result.err or (
        f"version 1 is already 001_create_taken.up.sql in {other.path}" in result.err
    )
    assert list(migrations.path.iterdir()) == []
