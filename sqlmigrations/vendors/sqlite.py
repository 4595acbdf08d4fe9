"""SQLite: SQLite's own tokenizer for splitting, a lock file for the run, and
migrations that run with foreign-key enforcement off, checked before COMMIT."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING

from django.db import DatabaseError, transaction
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper

from sqlmigrations.database import is_in_memory
from sqlmigrations.errors import (
    NO_TRANSACTION_HINT,
    DatabaseMessage,
    DatabaseUnavailable,
    LockTimeout,
    UsageError,
    one_line,
)
from sqlmigrations.sql import Statement, _split_sqlite
from sqlmigrations.vendors import sqlite_verify
from sqlmigrations.vendors.base import (
    Blockers,
    HistoryChange,
    OnWait,
    StatementFailed,
    Vendor,
)
from sqlmigrations.waits import milliseconds

if TYPE_CHECKING:
    from sqlmigrations.recorder import MigrationRecorder
    from sqlmigrations.snapshot import Snapshot
    from sqlmigrations.waits import WaitLimits

POLL_INTERVAL = 0.1
LOCK_SUFFIX = "-sqlmigrations-lock"
# Rows named per table when the foreign-key check fails.
SHOWN_ROWIDS = 5
# busy_timeout is a C int of milliseconds: the longest wait SQLite can be given (24 days).
FOREVER_MS = 2**31 - 1

# Connection settings a file may change that decide what a later file does, or
# whether the history can be written (query_only); read when a run begins and
# set back after every migration. foreign_keys is handled around each migration;
# case_sensitive_like cannot be read, so it cannot be put back.
SESSION_PRAGMAS = (
    "automatic_index",
    "cell_size_check",
    "ignore_check_constraints",
    "legacy_alter_table",
    "query_only",
    "recursive_triggers",
    "reverse_unordered_selects",
    "trusted_schema",
    "writable_schema",
)

_TRANSACTION = re.compile(
    r"(BEGIN|COMMIT|END|ROLLBACK(?!\s+(TRANSACTION\s+)?TO\b))\b", re.IGNORECASE
)


class SQLite(Vendor):
    name = "sqlite"
    backup_suffix = ".sqlite3"
    lint_notice = (
        "squawk's rules are PostgreSQL's: none of them apply to SQLite files. On SQLite "
        "the runner's own checks apply, before anything runs: file names and pairs, "
        "statements split by SQLite's rules, no BEGIN or COMMIT in a transactional file "
        "(sqlmigrate_up --dry-run runs them)."
    )

    def split_text(self, text: str) -> list[Statement]:
        return _split_sqlite(text)

    def outside_transaction_only(self, statement: Statement) -> str | None:
        return "VACUUM" if re.match(r"(?i)VACUUM\b", statement.sql) else None

    def failing_sql(self, message: str) -> str:
        # RAISE() exists only in a trigger; the temporary table and trigger go with
        # the migration's rolled-back transaction.
        literal = "'" + message.replace("'", "''") + "'"
        return (
            "CREATE TEMP TABLE sqlmigrate_refused (x);\n"
            "CREATE TEMP TRIGGER sqlmigrate_refused BEFORE INSERT ON sqlmigrate_refused\n"
            f"BEGIN SELECT RAISE(ABORT, {literal}); END;\n"
            "INSERT INTO sqlmigrate_refused VALUES (1);\n"
        )

    def rename_table(self, old: str, new: str) -> None:
        quote = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {quote(old)} RENAME TO {quote(new)}")

    def transaction_control(self, statement: Statement) -> str | None:
        match = _TRANSACTION.match(statement.sql)
        return match.group(1).upper() if match else None

    def error_message(self, error: BaseException, in_transaction: bool) -> DatabaseMessage:
        """sqlite3: one line and an error name (Python 3.11+); no detail, hint or position."""
        if not isinstance(error, sqlite3.Error):
            return super().error_message(error, in_transaction)
        errorname = getattr(error, "sqlite_errorname", None)
        text = one_line(str(error)) or type(error).__name__
        # "cannot VACUUM from within a transaction", "cannot change into wal mode from
        # within a transaction": SQLite has no error code of its own for these.
        notes = (
            (f"HINT: {NO_TRANSACTION_HINT}",)
            if in_transaction and "within a transaction" in text
            else ()
        )
        return DatabaseMessage(text=text, code=errorname and str(errorname), notes=notes)

    # Locking -----------------------------------------------------------------

    def run_lock(self, timeout: float, on_wait: OnWait | None) -> AbstractContextManager[None]:
        return _run_lock(self.connection, timeout, on_wait)

    # Session state -----------------------------------------------------------

    _pragmas: dict[str, int] | None = None  # while a run holds run_session()
    _had_temp_objects = False

    @contextmanager
    def run_session(self) -> Iterator[None]:
        """Each migration starts from the connection as the run found it: a temporary
        table one file creates would otherwise hide a real one from the next file, and a
        PRAGMA would change what it does."""
        with self.connection.cursor() as cursor:
            pragmas = {}
            for name in SESSION_PRAGMAS:
                cursor.execute(f"PRAGMA {name}")
                pragmas[name] = int(cursor.fetchone()[0])
            cursor.execute("SELECT count(*) FROM temp.sqlite_master")
            self._had_temp_objects = cursor.fetchone()[0] > 0
        self._pragmas = pragmas
        try:
            yield
        finally:
            self._pragmas = None

    def restore_session(self, statements: list[Statement]) -> None:
        if self._pragmas is None or not statements:
            return
        with self.connection.cursor() as cursor:
            for name, value in self._pragmas.items():
                cursor.execute(f"PRAGMA {name} = {value}")
            if self._had_temp_objects:
                return  # the caller's own: left alone
            cursor.execute(
                "SELECT type, name FROM temp.sqlite_master "
                "WHERE type IN ('trigger', 'view', 'table') ORDER BY type = 'table'"
            )
            for kind, name in cursor.fetchall():
                quoted = '"' + name.replace('"', '""') + '"'
                cursor.execute(f"DROP {kind.upper()} IF EXISTS temp.{quoted}")

    # Running -----------------------------------------------------------------

    def run_in_transaction(
        self,
        statements: list[Statement],
        change: HistoryChange,
        recorder: MigrationRecorder,
        limits: WaitLimits | None = None,
    ) -> None:
        try:
            with (
                self.session_limits(limits),
                self._foreign_keys_off(),
                self.history_failures(),
                self.write_transaction(),
            ):
                self.execute(statements, in_transaction=True)
                self._check_foreign_keys()
                recorder.record(change)
        except DatabaseError as exc:
            if not self.is_busy(exc):
                raise
            # BEGIN IMMEDIATE (or COMMIT) waited for another connection's write lock:
            # nothing ran, as for PostgreSQL's lock timeout. Blamed on the first
            # statement, the one the transaction was begun for.
            first = statements[0] if statements else None
            failure = StatementFailed(first, exc, self)
            failure.code = "SQLITE_BUSY"
            raise failure from exc

    def is_busy(self, exc: DatabaseError) -> bool:
        return is_busy_error(exc)

    # Waiting for other connections --------------------------------------------

    def lock_conflict(self, failure: StatementFailed) -> str | None:
        return "lock timeout" if failure.code == "SQLITE_BUSY" else None

    def watch_blockers(
        self, limits: WaitLimits, on_wait: OnWait | None = None
    ) -> AbstractContextManager[Blockers]:
        # SQLite waits inside one call (its busy handler): the holder is looked up
        # when the wait has failed, while it still holds the lock.
        return contextlib.nullcontext(_WriteLockHolder(self.connection))

    @contextmanager
    def session_limits(self, limits: WaitLimits | None) -> Iterator[None]:
        """The lock wait is SQLite's busy timeout, a setting of the connection."""
        if limits is None or limits.lock_timeout is None:
            yield
            return
        wait = milliseconds(limits.lock_timeout) or FOREVER_MS  # 0 disables the limit
        self.connection.ensure_connection()
        with self.connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout")
            previous = cursor.fetchone()[0]
            cursor.execute(f"PRAGMA busy_timeout = {int(wait)}")
        try:
            yield
        finally:
            with contextlib.suppress(DatabaseError), self.connection.cursor() as cursor:
                cursor.execute(f"PRAGMA busy_timeout = {int(previous)}")

    @contextmanager
    def write_transaction(self) -> Iterator[None]:
        """IMMEDIATE: the file's write lock is taken when the transaction begins, not at
        its first write, so a reader's lock cannot make it fail halfway."""
        connection = self.connection
        assert isinstance(connection, SQLiteDatabaseWrapper)
        connection.ensure_connection()
        # transaction_mode (Django 5.1+) is not in django-stubs yet.
        previous = connection.transaction_mode  # type: ignore[attr-defined]
        connection.transaction_mode = "IMMEDIATE"  # type: ignore[attr-defined]  # read by atomic()
        try:
            with transaction.atomic(using=connection.alias):
                connection.transaction_mode = previous  # type: ignore[attr-defined]
                yield
        finally:
            connection.transaction_mode = previous  # type: ignore[attr-defined]

    @contextmanager
    def _foreign_keys_off(self) -> Iterator[None]:
        """As Django's own schema editor does: inside a transaction SQLite ignores
        ``PRAGMA foreign_keys``, so a table rebuild (create, copy, drop, rename) would
        cascade its DROP into every child table. Off before the transaction, checked
        with ``PRAGMA foreign_key_check`` before COMMIT, back on after."""
        connection = self.connection
        if connection.in_atomic_block:
            raise UsageError(
                "on SQLite, migrations cannot run inside a transaction of the caller's: "
                "foreign-key enforcement can only be turned off outside one (a table "
                "rebuild would otherwise cascade into child tables); call the runner "
                "outside transaction.atomic()"
            )
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA foreign_keys")
            was_on = bool(cursor.fetchone()[0])
            if was_on:
                cursor.execute("PRAGMA foreign_keys = OFF")
        try:
            yield
        finally:
            if was_on:
                with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                    cursor.execute("PRAGMA foreign_keys = ON")

    def execute(self, statements: list[Statement], *, in_transaction: bool) -> None:
        if in_transaction:  # run_in_transaction turned enforcement off already
            super().execute(statements, in_transaction=True)
            return
        # A no-transaction file may rebuild a table too: the same protection, with the
        # check after its last statement (nothing can be rolled back by then, but the
        # migration is then recorded as failed instead of reported done).
        with self._foreign_keys_off():
            super().execute(statements, in_transaction=False)

    def transaction_left_open(self) -> bool:
        return bool(self.connection.connection.in_transaction)

    def check_outside_transaction(self) -> None:
        self._check_foreign_keys(when="after the file's last statement")

    def _check_foreign_keys(self, when: str = "before COMMIT") -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("PRAGMA foreign_key_check")
            rows = cursor.fetchall()
        if not rows:
            return
        found: dict[tuple[str, str], list[int | None]] = {}
        for table, rowid, parent, _ in rows:
            found.setdefault((table, parent), []).append(rowid)
        parts = []
        for (table, parent), rowids in found.items():
            shown = ", ".join(str(r) for r in rowids[:SHOWN_ROWIDS])
            more = ", ..." if len(rowids) > SHOWN_ROWIDS else ""
            noun = "row" if len(rowids) == 1 else "rows"
            verb = "references" if len(rowids) == 1 else "reference"
            parts.append(
                f"{len(rowids)} {noun} of {table} {verb} missing rows of {parent} "
                f"(rowid {shown}{more})"
            )
        message = f"foreign key check failed {when}: " + "; ".join(parts)
        raise StatementFailed(
            None,
            DatabaseError(message),
            self,
            message=message,
            in_transaction=when == "before COMMIT",
        )

    # Backups -----------------------------------------------------------------

    # Verifying (see sqlite_verify.py) ------------------------------------------------

    def snapshot(self) -> Snapshot:
        return sqlite_verify.snapshot(self.connection)

    def scratch_name(self) -> str:
        return sqlite_verify.scratch_name(self.connection)

    def create_scratch(self, name: str, *, keep: bool, replace: bool) -> bool:
        return sqlite_verify.create_scratch(name, keep=keep, replace=replace)

    def drop_scratch(self, name: str) -> None:
        sqlite_verify.drop_scratch(name)

    def backup(self, path: Path) -> None:
        from sqlmigrations.backup import backup_sqlite

        backup_sqlite(self.connection, path)


# SQLite's lock bytes (os_unix.c): a writer holds RESERVED in the database file, or
# in WAL mode the first lock byte of the -shm file.
RESERVED_BYTE = 0x40000001
WAL_WRITE_LOCK_BYTE = 120


class _WriteLockHolder(Blockers):
    def __init__(self, connection: object):
        super().__init__()
        self.connection = connection

    def describe(self) -> str:
        text = "blocked by another connection holding the write lock on the SQLite file"
        settings = getattr(self.connection, "settings_dict", {})
        pids = write_lock_holders(Path(str(settings.get("NAME", ""))))
        if not pids:
            return f"{text} (an open write transaction; SQLite does not say whose)"
        return f"{text} ({'; '.join(_describe_process(pid) for pid in pids)})"


def write_lock_holders(database: Path) -> list[int]:
    """Linux: the processes holding the file's write lock, from /proc/locks; [] elsewhere."""
    wanted: dict[str, int] = {}
    for path, byte in ((database, RESERVED_BYTE), (Path(f"{database}-shm"), WAL_WRITE_LOCK_BYTE)):
        try:
            stat = os.stat(path)
        except OSError:
            continue
        # /proc/locks names a file as MAJOR:MINOR:INODE, the device numbers in hex.
        wanted[f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"] = byte
    try:
        lines = Path("/proc/locks").read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return []
    pids = set()
    for line in lines:
        # "1: POSIX  ADVISORY  WRITE 2107 fe:00:2146489 1073741825 1073741825"; a
        # request still waiting has "->" after the number and is not a holder.
        fields = line.split()
        if len(fields) < 8 or fields[1] not in ("POSIX", "OFDLCK") or fields[3] != "WRITE":
            continue
        held = wanted.get(fields[5])
        start, end = fields[6], fields[7]
        if held is None or not start.isdigit() or int(start) > held:
            continue
        if (end == "EOF" or (end.isdigit() and held <= int(end))) and fields[4].isdigit():
            pids.add(int(fields[4]))
    return sorted(pid for pid in pids if pid > 0)


def _describe_process(pid: int) -> str:
    if pid == os.getpid():
        return f"pid {pid}, this process"
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return f"pid {pid}"
    command = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    if len(command) > 80:
        command = command[:77] + "..."
    return f"pid {pid}: {command}" if command else f"pid {pid}"


def lock_path(connection: SQLiteDatabaseWrapper) -> Path:
    """Beside the file itself: a runner reaching the database through a symlink
    must take the same lock as one naming the file."""
    return Path(f"{os.path.realpath(connection.settings_dict['NAME'])}{LOCK_SUFFIX}")


@contextmanager
def _run_lock(connection: object, timeout: float, on_wait: OnWait | None) -> Iterator[None]:
    """SQLite has no session lock, and its write lock cannot outlive the one
    migration's transaction: a whole run holds an exclusive ``flock`` on a file
    beside the database instead (released by the kernel if the process dies)."""
    assert isinstance(connection, SQLiteDatabaseWrapper)
    with connection.cursor() as cursor:
        # How long a migration waits for another connection's write transaction.
        cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    if is_in_memory(connection):
        with _busy_as_lock_timeout(timeout):
            yield
        return
    path = lock_path(connection)
    try:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115  # closed by the with below
    except OSError as exc:  # a directory by that name, a read-only directory
        raise DatabaseUnavailable(
            f"cannot open the migration lock file {path} ({exc.strerror or exc}); nothing was run"
        ) from exc
    with handle:
        _acquire(handle, path, timeout, on_wait)
        try:
            handle.seek(0)
            handle.truncate()
            started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            handle.write(f"pid {os.getpid()} on {socket.gethostname()}, since {started}")
            handle.flush()
            with _busy_as_lock_timeout(timeout):
                yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _acquire(handle: IO[str], path: Path, timeout: float, on_wait: OnWait | None) -> None:
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if time.monotonic() >= deadline:
            raise LockTimeout(
                f"another sqlmigrations runner holds the migration lock on this database "
                f"({_holder(path)}); gave up after {timeout:g}s. Wait for it to finish, "
                "or raise --lock-timeout."
            )
        if on_wait is not None and not told:
            on_wait(f"Waiting for the migration lock held by {_holder(path)}...")
            told = True
        time.sleep(POLL_INTERVAL)


def _holder(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        text = ""
    return text or "a runner that is just starting"


def is_busy_error(exc: BaseException) -> bool:
    """SQLite's answer when another connection held the lock past the busy timeout."""
    return "database is locked" in str(exc)


@contextmanager
def _busy_as_lock_timeout(timeout: float) -> Iterator[None]:
    try:
        yield
    except DatabaseError as exc:
        if not is_busy_error(exc):
            raise
        raise LockTimeout(
            "another connection holds the write lock on this SQLite database "
            f"(an open transaction); gave up after {timeout:g}s. "
            "Wait for it to finish, or raise --lock-timeout."
        ) from exc
