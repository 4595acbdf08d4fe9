"""/health/: versions and kinds of problem for anyone, details for staff; files re-read
only when they change. On the test database the SQL migrations built."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from sqlmigrations.models import SchemaMigration
from tests.conftest import copy_backend_migrations

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(tmp_path: Path, settings: Any) -> Path:
    """A copy of the backend's migrations, which the test may change."""
    copy = copy_backend_migrations(tmp_path / "migrations")
    settings.SQLMIGRATIONS_DIRS = [copy]
    return copy


def get(client: Client) -> tuple[int, dict[str, Any], str]:
    response = client.get("/health/")
    return response.status_code, response.json(), response.content.decode()


def test_a_changed_file_shows_its_version_and_kind_to_anyone(
    client: Client, admin_client: Client, files: Path
) -> None:
    for up in files.glob("001_*.up.sql"):
        with up.open("a") as f:
            f.write("-- edited after it was applied\n")

    status, body, text = get(client)

    assert status == 503
    assert body == {
        "status": "migrations_needed",
        "pending": [],
        "problems": [{"version": 1, "kind": "checksum_differs"}],
    }
    assert "001_initial_schema" not in text and "/" not in text
    status, body, _ = get(admin_client)
    assert status == 503
    assert body["details"] == [
        "001_initial_schema: applied, but its up file has changed since (checksum differs)"
    ]


def test_missing_files_and_a_failed_migration_are_kinds(client: Client, files: Path) -> None:
    for seed in files.glob("002_*"):
        seed.unlink()
    SchemaMigration.objects.filter(version=2).update(dirty=True)

    status, body, _ = get(client)

    assert status == 503
    assert body["problems"] == [
        {"version": 2, "kind": "files_missing"},
        {"version": 2, "kind": "failed_midway"},
    ]


def test_invalid_files_show_anonymous_callers_no_path(
    client: Client, admin_client: Client, files: Path
) -> None:
    (files / "004_no_down_file.up.sql").write_text("SELECT 1;\n")

    status, body, text = get(client)

    assert (status, body) == (503, {"status": "error", "error": "invalid_migration_files"})
    assert str(files) not in text
    status, body, _ = get(admin_client)
    assert status == 503
    assert "004_no_down_file" in body["details"]


def test_a_missing_directory_shows_anonymous_callers_no_path(
    client: Client, settings: Any, tmp_path: Path
) -> None:
    settings.SQLMIGRATIONS_DIRS = [tmp_path / "nowhere"]

    status, body, text = get(client)

    assert (status, body) == (503, {"status": "error", "error": "invalid_migration_files"})
    assert str(tmp_path) not in text


def test_files_are_read_again_only_when_they_change(client: Client, files: Path) -> None:
    assert get(client)[0] == 200
    seed = next(files.glob("002_*.up.sql"))
    before = seed.stat()
    text = seed.read_bytes()
    with seed.open("r+b") as f:  # same size, same inode, mtime put back
        f.write(text.replace(b"INSERT", b"insert", 1))
    os.utime(seed, ns=(before.st_atime_ns, before.st_mtime_ns))

    assert get(client)[0] == 200  # not read again: nothing it checks has changed

    os.utime(seed, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    status, body, _ = get(client)
    assert status == 503
    assert body["problems"] == [{"version": 2, "kind": "checksum_differs"}]


def test_a_new_file_is_seen_at_once(client: Client, files: Path) -> None:
    assert get(client)[0] == 200
    (files / "004_more.up.sql").write_text("SELECT 1;\n")
    (files / "004_more.down.sql").write_text("SELECT 1;\n")

    assert get(client)[1]["pending"] == [4]
