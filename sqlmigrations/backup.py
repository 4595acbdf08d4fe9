"""Write a backup of the database before a run that may destroy data.

A backup is written under a name ending in ``.partial``, synced to disk, and only
then renamed to its final name: a backup that failed or was interrupted leaves
no file that looks like one. Backups are readable by their owner only.

PostgreSQL: pg_dump in its custom format (restore with pg_restore), connected
exactly as the runner is. SQLite: the online backup API, copying one snapshot.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper

from sqlmigrations.database import is_in_memory
from sqlmigrations.errors import (
    BackupFailed,
    ConfigurationError,
    SqlMigrationsError,
    mask_secrets,
    one_line,
)

if TYPE_CHECKING:
    from sqlmigrations.vendors.base import Vendor

# How long pg_dump waits for a table lock held by someone else, by default.
DEFAULT_LOCK_TIMEOUT = 60.0
# pg_dump's connect timeout when neither the connection nor PGCONNECT_TIMEOUT sets one.
DEFAULT_CONNECT_TIMEOUT = 10
# Pages the SQLite backup copies between checks for Ctrl-C (4 MB with 4 kB pages).
SQLITE_STEP_PAGES = 1024


class BackupInterrupted(SqlMigrationsError):
    """Ctrl-C during the backup: the incomplete file is gone and nothing ran."""

    exit_code = 130


def write_backup(vendor: Vendor, directory: Path, reason: str) -> Path:
    """Write ``vendor``'s database to a new file in ``directory``, whole or not at all."""
    connection = vendor.connection
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupFailed(
            f"cannot create backup directory {directory}: {exc.strerror}; nothing was run"
        ) from exc
    name = re.sub(r"[^\w.-]+", "_", _database_name(connection)) or "database"
    target = directory / f"{name}-{stamp}-before-{reason}{vendor.backup_suffix}"
    partial = target.with_name(target.name + ".partial")
    try:
        # Created here, private from the start: pg_dump and SQLite keep the mode.
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise BackupFailed(
            f"cannot write a backup in {directory}: {exc.strerror}; nothing was run"
        ) from exc
    try:
        vendor.backup(partial)
        try:
            _fsync(partial)
            partial.rename(target)
            _fsync(directory)
        except OSError as exc:
            raise BackupFailed(
                f"cannot finish the backup {target}: {exc.strerror}; nothing was run"
            ) from exc
    except KeyboardInterrupt:
        _remove_partial(partial)
        if target.exists():  # interrupted just after the rename: the backup is whole
            raise BackupInterrupted(
                f"interrupted just after the backup {target} was written; nothing was run"
            ) from None
        raise BackupInterrupted(
            "interrupted during the backup; nothing was run, and the incomplete backup "
            "file was removed"
        ) from None
    except BaseException:
        _remove_partial(partial)
        raise
    return target


def _database_name(connection: BaseDatabaseWrapper) -> str:
    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return Path(str(settings_dict["NAME"])).stem
    return str(settings_dict["NAME"] or settings_dict["OPTIONS"].get("service") or "")


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_partial(partial: Path) -> None:
    # SQLite's journal files for the copy, if its connection could not clean up.
    for suffix in ("", "-journal", "-wal", "-shm"):
        partial.with_name(partial.name + suffix).unlink(missing_ok=True)


def backup_lock_timeout() -> float:
    """``SQLMIGRATIONS_BACKUP_LOCK_TIMEOUT``: seconds; 0 waits as long as it takes."""
    value = getattr(settings, "SQLMIGRATIONS_BACKUP_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigurationError(
            f"SQLMIGRATIONS_BACKUP_LOCK_TIMEOUT must be a number of seconds, 0 or more, "
            f"not {value!r}"
        )
    return seconds


# SQLite ---------------------------------------------------------------------


def backup_sqlite(connection: BaseDatabaseWrapper, path: Path) -> None:
    if is_in_memory(connection):
        raise BackupFailed("an in-memory SQLite database cannot be backed up; pass --no-backup")
    connection.ensure_connection()
    source = connection.connection
    try:
        with _read_snapshot(source):
            destination = sqlite3.connect(path)
            try:
                # In steps, so that Ctrl-C is seen between them (in the callback).
                source.backup(destination, pages=SQLITE_STEP_PAGES, progress=_bounded_steps())
            finally:
                destination.close()
    except sqlite3.Error as exc:
        raise BackupFailed(f"SQLite backup failed, so nothing was run: {exc}") from exc


@contextmanager
def _read_snapshot(source: sqlite3.Connection) -> Iterator[None]:
    """One read transaction around the whole copy.

    A stepped backup restarts whenever another connection writes between steps,
    possibly for ever under steady writes. Inside one read transaction the copy
    is of that snapshot and never restarts; in rollback-journal mode writers wait
    for it (within their busy timeout), as for any reader; in WAL mode they do not.
    """
    if source.in_transaction:  # already isolated from other writers
        yield
        return
    source.execute("BEGIN")
    try:
        source.execute("SELECT count(*) FROM sqlite_master").fetchall()
        yield
    finally:
        source.execute("ROLLBACK")


def _bounded_steps() -> Callable[[int, int, int], None]:
    """A progress callback that stops a copy which is not finishing (a busy or
    locked destination is retried by Python without limit)."""
    calls = 0

    def progress(status: int, remaining: int, total: int) -> None:
        nonlocal calls
        calls += 1
        if calls > 2 * (total // SQLITE_STEP_PAGES + 1) + 1000:
            raise BackupFailed(
                f"the SQLite backup was not finishing ({remaining} of {total} pages left "
                f"after {calls} steps); nothing was run"
            )

    return progress


# PostgreSQL -----------------------------------------------------------------

# libpq options that hold a secret and have no environment variable: on pg_dump's
# command line every local user could read them.
SECRET_OPTIONS = ("sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key")


def backup_postgresql(connection: BaseDatabaseWrapper, path: Path) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupFailed(
            "pg_dump was not found on PATH, so no backup could be written and nothing was "
            "run; install PostgreSQL's client tools, or pass --no-backup"
        )
    from sqlmigrations.vendors.pg_driver import conninfo

    options, password, role = pg_dump_connection(connection)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = password  # the environment is private to the user; argv is not
    if "connect_timeout" not in options:
        env.setdefault("PGCONNECT_TIMEOUT", str(DEFAULT_CONNECT_TIMEOUT))
    command = [pg_dump, "--format=custom", "--no-password", "--file", str(path)]
    command += ["--dbname", conninfo(options)]
    if role:
        command.append(f"--role={role}")
    lock_timeout = backup_lock_timeout()
    if lock_timeout:
        command.append(f"--lock-wait-timeout={max(1, round(lock_timeout * 1000))}")
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        encoding="utf-8",
        errors="replace",
    )
    try:
        _, stderr = process.communicate()
    finally:
        if process.poll() is None:  # interrupted: pg_dump must not outlive the run
            process.kill()
            process.wait()
    if process.returncode == -signal.SIGINT:
        # Ctrl-C in a terminal reaches pg_dump too, and it may end before Python
        # raises KeyboardInterrupt here: the same interruption.
        raise KeyboardInterrupt
    if process.returncode != 0:
        message = _pg_dump_failure(connection, process.returncode, stderr, lock_timeout)
        secrets = {"PASSWORD": password or ""}
        raise BackupFailed(mask_secrets(mask_secrets(message, secrets), connection.settings_dict))


def pg_dump_connection(
    connection: BaseDatabaseWrapper,
) -> tuple[dict[str, str], str | None, str | None]:
    """The runner's libpq connection options, with the password and ``assume_role``
    (a Django option, applied as SET ROLE) apart."""
    from sqlmigrations.vendors.pg_driver import libpq_options

    # What Django hands the driver, which passes every libpq keyword on to libpq.
    params: dict[str, Any] = connection.get_connection_params()
    password = params.pop("password", None)
    params.pop("client_encoding", None)  # Django forces UTF8; pg_dump chooses its own
    options = libpq_options(params)
    secret = [key for key in SECRET_OPTIONS if key in options]
    if secret:
        raise BackupFailed(
            f"pg_dump cannot be given {', '.join(secret)} without showing it to every "
            "local user on its command line, so no backup was written and nothing was run; "
            "pass --no-backup and back up by other means"
        )
    role = connection.settings_dict["OPTIONS"].get("assume_role")
    return options, (str(password) if password else None), role


def _pg_dump_failure(
    connection: BaseDatabaseWrapper, returncode: int, stderr: str, lock_timeout: float
) -> str:
    text = one_line(stderr)
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        why = " (file size limit exceeded)" if name == "SIGXFSZ" else ""
        return f"pg_dump was killed by {name}{why}, so nothing was run{': ' if text else ''}{text}"
    locked = re.search(r"Query was: LOCK TABLE (.+?) IN ACCESS SHARE MODE", stderr)
    if locked and "statement timeout" in stderr:
        table = locked.group(1)
        return (
            f"the backup could not lock table {table} within {lock_timeout:g}s: "
            f"{_lock_holder(connection, table)}; nothing was run. Retry once it is released, "
            "or raise SQLMIGRATIONS_BACKUP_LOCK_TIMEOUT."
        )
    return f"pg_dump failed, so nothing was run: {text}"


def _lock_holder(connection: BaseDatabaseWrapper, table: str) -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT a.pid, a.usename, a.state, l.mode,
                       extract(epoch FROM now() - a.xact_start)::int
                FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.relation = to_regclass(%s) AND l.granted
                  AND l.pid <> pg_backend_pid()
                ORDER BY a.xact_start LIMIT 1
                """,
                [table],
            )
            row = cursor.fetchone()
    except DatabaseError:
        row = None
    if row is None:
        return "another session held a conflicting lock"
    pid, user, state, mode, seconds = row
    return f"pid {pid} (user {user}, {state}) has held {mode} on it for {seconds}s"
