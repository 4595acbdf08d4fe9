"""sqlmigrate_status: applied, pending and problems, as text and as JSON."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from tests.conftest import MigrationFiles, TargetDatabase


def test_lists_applied_and_pending(target: TargetDatabase, migrations: MigrationFiles) -> None:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0
    migrations.table(2, "b")

    result = target.run("sqlmigrate_status")

    assert result.code == 0, result.output
    lines = result.out.splitlines()
    assert re.fullmatch(
        r" \[X\] 001_create_a  applied \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", lines[1]
    )
    assert lines[2] == " [ ] 002_create_b  pending"
    assert lines[3] == "1 applied, 1 pending, 0 with problems."


def test_shows_where_it_looked_without_the_password(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    result = target.run("sqlmigrate_status")

    assert result.code == 0
    # Wherever the test server is (SQLMIGRATIONS_TEST_POSTGRES_URL), not this machine's.
    url = urlsplit(target.url)
    if target.vendor == "sqlite":
        expected = f"sqlite {target.path}"
    else:
        expected = f"postgresql {url.username}@{url.hostname}:{url.port}/{target.name}"
    assert result.out.startswith(f"Database: {expected}\n")
    if url.password:
        assert url.password not in result.output


def test_reports_an_applied_migration_whose_files_vanished(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")
    assert target.run("sqlmigrate_up").code == 0
    for path in migrations.path.glob("002_*"):
        path.unlink()

    result = target.run("sqlmigrate_status")

    assert result.code == 0
    assert " [!] 002_create_b  applied, but its files are missing" in result.out
    assert "2 applied, 0 pending, 1 with problems." in result.out


def test_reports_an_applied_migration_whose_file_changed(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0
    migrations.write("001_create_a.up.sql", "CREATE TABLE a (id bigint);")

    result = target.run("sqlmigrate_status")

    assert (
        " [!] 001_create_a  applied, but its up file has changed since (checksum differs)"
        in result.out
    )


def test_json_output_for_scripts(target: TargetDatabase, migrations: MigrationFiles) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")
    assert target.run("sqlmigrate_up", "--target", "1").code == 0

    result = target.run("sqlmigrate_status", "--json")

    assert result.code == 0
    data = json.loads(result.out)
    assert data["database"] == "target"
    assert data["vendor"] == target.vendor
    assert data["pending"] == [2]
    assert data["problems"] == []
    first, second = data["migrations"]
    assert first["version"] == 1 and first["state"] == "applied" and first["applied_at"]
    assert second == {
        "version": 2,
        "name": "002_create_b",
        "state": "pending",
        "applied_at": None,
        "execution_ms": None,
        "checksum": second["checksum"],
        "problems": [],
        "out_of_order": False,
        "up_file": str(migrations.path / "002_create_b.up.sql"),
        "down_file": str(migrations.path / "002_create_b.down.sql"),
        "variant": None,
    }


def test_status_of_a_new_database_writes_nothing(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")

    result = target.run("sqlmigrate_status")

    assert result.code == 0
    assert " [ ] 001_create_a  pending" in result.out
    assert target.tables() == set()
    if target.path is not None:
        assert not target.path.exists()


def test_check_exits_1_while_anything_is_pending(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")

    pending = target.run("sqlmigrate_status", "--check")
    assert target.run("sqlmigrate_up").code == 0
    clean = target.run("sqlmigrate_status", "--check")

    assert pending.code == 1
    assert pending.err == "check failed: 1 pending, 0 with problems"
    assert clean.code == 0, clean.output


def test_check_exits_1_on_drift(target: TargetDatabase, migrations: MigrationFiles) -> None:
    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0
    migrations.write("001_create_a.up.sql", "CREATE TABLE a (id bigint);")

    result = target.run("sqlmigrate_status", "--check", "--json")

    assert result.code == 1
    assert json.loads(result.out)["problems"] == [
        "001_create_a: applied, but its up file has changed since (checksum differs)"
    ]


def test_columns_are_aligned_and_verbosity_2_shows_each_file_and_variant(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.pair("002_a_much_longer_name", "SELECT 1;", "SELECT 1;")
    migrations.write(f"002_a_much_longer_name.{target.vendor}.up.sql", "SELECT 2;")
    assert target.run("sqlmigrate_up", "--target", "1").code == 0

    normal = target.run("sqlmigrate_status").out.splitlines()
    detailed = target.run("sqlmigrate_status", "-v", "2").out.splitlines()
    data = json.loads(target.run("sqlmigrate_status", "--json").out)

    assert normal[1].index("applied") == normal[2].index("pending")
    assert normal[1].startswith(" [X] " + "001_create_a".ljust(22) + "  applied ")
    up = migrations.path / "001_create_a.up.sql"
    variant = migrations.path / f"002_a_much_longer_name.{target.vendor}.up.sql"
    assert f" [X] {'001_create_a'.ljust(22)}  {up}" in detailed[1]
    assert f" [ ] 002_a_much_longer_name  {variant}  pending" == detailed[2]
    assert detailed[1].index("applied") == detailed[2].index("pending")
    first, second = data["migrations"]
    assert (first["up_file"], first["variant"]) == (str(up), None)
    assert (second["up_file"], second["variant"]) == (str(variant), target.vendor)
    assert second["down_file"] == str(migrations.path / "002_a_much_longer_name.down.sql")


def test_a_failed_no_transaction_migration_is_not_counted_as_applied(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.pair(
        "002_outside",
        "-- sqlmigrate: no-transaction\nCREATE TABLE b (id integer);\nSELECT * FROM nope;\n",
        "DROP TABLE b;\n",
    )
    assert target.run("sqlmigrate_up").code == 1

    text = target.run("sqlmigrate_status")
    data = json.loads(target.run("sqlmigrate_status", "--json").out)

    assert "1 applied, 0 pending, 1 with problems (1 failed)." in text.out
    assert " [!] 002_outside   failed midway outside a transaction" in text.out
    assert [m["state"] for m in data["migrations"]] == ["applied", "failed"]


def test_verbosity_0_prints_nothing_but_json_and_errors(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")

    quiet = target.run("sqlmigrate_status", "-v", "0")
    gate = target.run("sqlmigrate_status", "-v", "0", "--check")
    data = target.run("sqlmigrate_status", "-v", "0", "--json")

    assert (quiet.code, quiet.output) == (0, "")
    assert (gate.code, gate.out) == (1, "")
    assert gate.err == "check failed: 1 pending, 0 with problems"
    assert json.loads(data.out)["pending"] == [1]
