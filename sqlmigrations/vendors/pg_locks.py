"""PostgreSQL waits: the run's advisory lock, and whom a migration waits for."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, Error
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from sqlmigrations.errors import LockTimeout, mask_secrets
from sqlmigrations.vendors.base import Blockers, OnWait
from sqlmigrations.vendors.pg_driver import connect
from sqlmigrations.waits import seconds

if TYPE_CHECKING:
    from sqlmigrations.vendors.postgresql import PostgreSQL

# A fixed key: advisory locks are already scoped to one database.
ADVISORY_LOCK_KEY = 0x53514D47  # "SQMG"
POLL_INTERVAL = 0.2
# Seconds between looks at whom a migration waits for (and before the first).
LOOK_EVERY = 0.25


@contextmanager
def advisory_lock(vendor: PostgreSQL, timeout: float, on_wait: OnWait | None) -> Iterator[None]:
    """Spin on pg_try_advisory_lock *outside* any transaction: blocking in
    pg_advisory_lock inside one can deadlock against a runner doing CREATE INDEX
    CONCURRENTLY (Flyway hit this), and a spinner can give up with a clear message."""
    connection = vendor.connection
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
        except Error:  # psycopg2: InterfaceError, no DatabaseError, once it is closed
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


# Whom the runner's session waits for, oldest transaction first (the likeliest
# root of a queue). pid 0 is a prepared transaction.
_BLOCKERS = """
SELECT b.pid, a.usename, a.state,
       floor(extract(epoch FROM now() - a.state_change))::int,
       to_char(a.query_start, 'YYYY-MM-DD HH24:MI:SS TZ'), a.query,
       count(*) OVER ()
FROM unnest(pg_blocking_pids(%s)) AS b(pid)
LEFT JOIN pg_stat_activity a ON a.pid = b.pid
ORDER BY a.xact_start NULLS LAST, b.pid
LIMIT 1
"""
QUERY_SHOWN = 120  # characters of the blocker's query in a message


@dataclass
class _Watch:
    runner_pid: int
    interval: float
    blockers: Blockers
    due: float  # time.monotonic() of the next look
    failed: bool = False  # a look failed: no more for this attempt


class BlockerWatcher:
    """One thread for a whole run, armed around each attempt: starting a thread per
    migration would cost more than a fast migration itself."""

    def __init__(self, database: Any, params: dict[str, Any], settings_dict: dict[str, Any]):
        self.database = database  # the driver module Django connects with
        self.params = {k: v for k, v in params.items() if k not in ("cursor_factory", "context")}
        self.settings_dict = settings_dict  # to mask the password, should a query show it
        self.changed = threading.Condition()
        self.watch: _Watch | None = None
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="sqlmigrations-blockers", daemon=True)
        self.thread.start()

    def arm(self, runner_pid: int, interval: float, blockers: Blockers) -> None:
        with self.changed:
            self.watch = _Watch(runner_pid, interval, blockers, time.monotonic() + interval)
            self.changed.notify()

    def disarm(self) -> None:
        with self.changed:
            self.watch = None

    def close(self) -> None:
        with self.changed:
            self.closed = True
            self.changed.notify()
        # Not longer: a look-up stuck on a slow server must not hold the run.
        self.thread.join(timeout=1.0)

    def _run(self) -> None:
        conn = None
        try:
            while True:
                with self.changed:
                    if self.closed:
                        return
                    watch = self.watch
                    if watch is None or watch.failed:
                        self.changed.wait()
                        continue
                    delay = watch.due - time.monotonic()
                    if delay > 0:
                        self.changed.wait(delay)
                        continue
                    watch.due = time.monotonic() + watch.interval
                try:
                    if conn is None:
                        conn = connect(self.database, self.params)
                    with conn.cursor() as cursor:
                        cursor.execute(_BLOCKERS, [watch.runner_pid])
                        row = cursor.fetchone()
                    with self.changed:
                        if row is not None and self.watch is watch:
                            text = _describe_blocker(*row)
                            watch.blockers.saw(mask_secrets(text, self.settings_dict))
                except Exception:
                    # Only a report: failing to look must not fail the migration,
                    # whose message then says the blocker could not be identified.
                    with self.changed:
                        watch.failed = True
                    if conn is not None:
                        conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()


def _describe_blocker(
    pid: int,
    user: str | None,
    state: str | None,
    for_seconds: int | None,
    query_start: str | None,
    query: str | None,
    count: int,
) -> str:
    if pid == 0:
        text = "a prepared transaction (see pg_prepared_xacts)"
    else:
        text = f"pid {pid}, user {user or 'unknown'}, state {state or 'unknown'}"
        if for_seconds is not None:
            text += f", for {seconds(for_seconds)}"
        if query_start:
            text += f", query started {query_start}"
        if query:
            shown = " ".join(query.split())
            if len(shown) > QUERY_SHOWN:
                shown = shown[: QUERY_SHOWN - 3] + "..."
            text += f": {shown}"
    if count > 1:
        others = count - 1
        text += f" (and {others} other session{'s' if others > 1 else ''})"
    return f"blocked by {text}"


def history_lock_holders(connection: BaseDatabaseWrapper) -> str:
    """Who holds a lock on schema_migrations, for a message (after the wait failed)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT a.pid, a.usename, a.state, l.mode FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.granted AND l.relation = to_regclass('schema_migrations') "
                "AND a.pid <> pg_backend_pid() ORDER BY a.xact_start LIMIT 3"
            )
            rows = cursor.fetchall()
    except DatabaseError:
        rows = []
    if not rows:
        return "a session that has released it since"
    return "; ".join(f"pid {pid}, user {user}, {state}, {mode}" for pid, user, state, mode in rows)
