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
