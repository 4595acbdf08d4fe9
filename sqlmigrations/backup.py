"""Write a backup of the database before a run that may destroy data.

PostgreSQL: pg_dump in its custom format (restore with pg_restore); the password
goes through PGPASSWORD, never the command line. SQLite: the online backup API,
which copies a consistent snapshot even while others use the file.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from django.db.backends.base.base import BaseDatabaseWrapper

from sqlmigrations.database import is_in_memory, one_line
from sqlmigrations.errors import BackupFailed, mask_secrets


def write_backup(connection: BaseDatabaseWrapper, directory: Path, reason: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupFailed(
            f"cannot create backup directory {directory}: {exc.strerror}; nothing was run"
        ) from exc
    if connection.vendor == "sqlite":
        return _backup_sqlite(connection, directory, stamp, reason)
    return _backup_postgresql(connection, directory, stamp, reason)


def _backup_sqlite(
    connection: BaseDatabaseWrapper, directory: Path, stamp: str, reason: str
) -> Path:
    if is_in_memory(connection):
        raise BackupFailed("an in-memory SQLite database cannot be backed up; pass --no-backup")
    name = Path(str(connection.settings_dict["NAME"])).stem
    target = directory / f"{name}-{stamp}-before-{reason}.sqlite3"
    connection.ensure_connection()
    try:
        destination = sqlite3.connect(target)
        try:
            connection.connection.backup(destination)
        finally:
            destination.close()
    except (sqlite3.Error, OSError) as exc:
        target.unlink(missing_ok=True)
        raise BackupFailed(f"backup to {target} failed: {exc}; nothing was run") from exc
    return target


def _backup_postgresql(
    connection: BaseDatabaseWrapper, directory: Path, stamp: str, reason: str
) -> Path:
    settings = connection.settings_dict
    target = directory / f"{settings['NAME']}-{stamp}-before-{reason}.dump"
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupFailed(
            "pg_dump was not found on PATH, so no backup could be written and nothing was "
            "run; install PostgreSQL's client tools, or pass --no-backup"
        )
    env = dict(os.environ)
    for variable, key in [
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
    ]:
        if settings.get(key):
            env[variable] = str(settings[key])
    if settings.get("OPTIONS", {}).get("sslmode"):
        env["PGSSLMODE"] = settings["OPTIONS"]["sslmode"]
    result = subprocess.run(
        [pg_dump, "--format=custom", "--file", str(target), "--dbname", str(settings["NAME"])],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        target.unlink(missing_ok=True)
        message = mask_secrets(one_line(result.stderr), settings)
        raise BackupFailed(f"pg_dump failed, so nothing was run: {message}")
    return target
