"""One runner at a time per database.

PostgreSQL: a session-level advisory lock, acquired by spinning on
pg_try_advisory_lock *outside* any transaction. Blocking in pg_advisory_lock
inside a transaction can deadlock against a runner doing CREATE INDEX
CONCURRENTLY (Flyway hit this), and a spinner can give up with a clear message.

SQLite has no session lock; each migration instead runs in an IMMEDIATE
transaction, which takes the file's write lock before anything is read, and the
executor re-checks the history inside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import DatabaseError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from sqlmigrations.errors import LockTimeout

# A fixed key: advisory locks are already scoped to one database.
ADVISORY_LOCK_KEY = 0x53514D47  # "SQMG"
POLL_INTERVAL = 0.2


@contextmanager
def migration_lock(
    connection: BaseDatabaseWrapper,
    timeout: float,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    if connection.vendor == "postgresql":
        with _advisory_lock(connection, timeout, on_wait):
            yield
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            # How long a writer waits for another runner's transaction to end.
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        try:
            yield
        except DatabaseError as exc:
            if "database is locked" not in str(exc):
                raise
            raise LockTimeout(
                "another connection holds the write lock on this SQLite database "
                f"(another runner, or an open transaction); gave up after {timeout:g}s. "
                "Wait for it to finish, or raise --lock-timeout."
            ) from exc
    else:
        yield


@contextmanager
def _advisory_lock(
    connection: BaseDatabaseWrapper,
    timeout: float,
    on_wait: Callable[[str], None] | None,
) -> Iterator[None]:
    deadline = time.monotonic() + timeout
    told = False
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
            if cursor.fetchone()[0]:
                break
            # Who holds it is looked up only when a message needs it, not every poll.
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"another sqlmigrations runner holds the migration lock on this "
                    f"database ({_lock_holder(cursor)}); gave up after {timeout:g}s. "
                    "Wait for it to finish, or raise --lock-timeout."
                )
            if on_wait is not None and not told:
                on_wait(f"Waiting for the migration lock held by {_lock_holder(cursor)}...")
                told = True
            time.sleep(POLL_INTERVAL)
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
        except DatabaseError:
            # A broken connection: closing it makes the server drop the lock.
            connection.close()


def _lock_holder(cursor: CursorWrapper) -> str:
    cursor.execute(
        """
        SELECT a.pid, a.usename, host(a.client_addr), a.application_name,
               to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ')
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = 0 AND l.objid = %s AND l.objsubid = 1
        """,
        [ADVISORY_LOCK_KEY],
    )
    row = cursor.fetchone()
    if row is None:
        return "a session that has just released it"
    pid, user, addr, app, started = row
    where = f" from {addr}" if addr else ""
    app_part = f", {app}" if app else ""
    return f"pid {pid}, user {user}{where}{app_part}, connected {started}"


@contextmanager
def write_transaction(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """One migration's transaction; on SQLite it holds the write lock from its start."""
    if connection.vendor != "sqlite":
        with transaction.atomic(using=connection.alias):
            yield
        return
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
