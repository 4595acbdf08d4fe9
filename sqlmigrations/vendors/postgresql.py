"""PostgreSQL: pglast splitting, a session advisory lock, one message per migration."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from django.db import DatabaseError
from django.db.backends.utils import CursorWrapper

from sqlmigrations.batch import BatchFailed, can_batch, run_batch
from sqlmigrations.errors import NO_TRANSACTION_HINT, DatabaseMessage, LockTimeout, one_line
from sqlmigrations.sql import Statement, _split_postgresql
from sqlmigrations.vendors.base import (
    HistoryChange,
    OnWait,
    StatementFailed,
    Vendor,
)

if TYPE_CHECKING:
    from sqlmigrations.recorder import MigrationRecorder

# A fixed key: advisory locks are already scoped to one database.
ADVISORY_LOCK_KEY = 0x53514D47  # "SQMG"
POLL_INTERVAL = 0.2

# First words of statements that may begin or end a transaction; the parser then
# tells them from SAVEPOINT-style ones and from PREPARE of a query.
_TRANSACTION_WORDS = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "PREPARE"}


class PostgreSQL(Vendor):
    name = "postgresql"
    backup_suffix = ".dump"

    def split(self, text: str) -> list[Statement]:
        return _split_postgresql(text)

    def transaction_control(self, statement: Statement) -> str | None:
        word = re.match(r"[A-Za-z]*", statement.sql)
        first = word.group().upper() if word else ""
        if first not in _TRANSACTION_WORDS:
            return None
        from pglast import ast
        from pglast import parser as pg_parser
        from pglast.enums.parsenodes import TransactionStmtKind as Kind

        node = pg_parser.parse_sql(statement.sql)[0].stmt
        if isinstance(node, ast.TransactionStmt) and node.kind not in (
            Kind.TRANS_STMT_SAVEPOINT,
            Kind.TRANS_STMT_RELEASE,
            Kind.TRANS_STMT_ROLLBACK_TO,
        ):
            return first
        return None

    def error_message(self, error: BaseException, in_transaction: bool) -> DatabaseMessage:
        """psycopg: the server's primary message, its position, DETAIL and HINT."""
        sqlstate = getattr(error, "sqlstate", None)
        if not sqlstate:
            return super().error_message(error, in_transaction)
        diag = error.diag  # type: ignore[attr-defined]
        notes = [f"DETAIL: {one_line(diag.message_detail)}"] if diag.message_detail else []
        if diag.message_hint:
            notes.append(f"HINT: {one_line(diag.message_hint)}")
        if sqlstate == "25001" and in_transaction:  # active_sql_transaction
            notes.append(f"HINT: {NO_TRANSACTION_HINT}")
        return DatabaseMessage(
            text=one_line(diag.message_primary or "") or one_line(str(error)),
            code=f"SQLSTATE {sqlstate}",
            position=int(diag.statement_position) if diag.statement_position else None,
            notes=tuple(notes),
        )

    def run_lock(self, timeout: float, on_wait: OnWait | None) -> AbstractContextManager[None]:
        return _advisory_lock(self, timeout, on_wait)

    def run_in_transaction(
        self, statements: list[Statement], change: HistoryChange, recorder: MigrationRecorder
    ) -> None:
        if not can_batch(self.connection):
            # Inside a caller's transaction: a savepoint of theirs, statement by statement.
            with self.history_failures(), self.write_transaction():
                self.execute(statements, in_transaction=True)
                recorder.record(change)
            return
        history = recorder.record_sql(change)
        try:
            run_batch(self.connection, [*(s.sql for s in statements), history])
        except BatchFailed as failed:
            # Past the file's statements: its history row, or COMMIT (a deferred
            # constraint), which has no line in the file.
            statement = statements[failed.index] if failed.index < len(statements) else None
            raise StatementFailed(
                statement, failed.error, self, sent_at=failed.offset
            ) from failed.error
        except DatabaseError as exc:
            # The exchange itself broke (the connection was lost): the server may
            # have committed the whole message, or none of it.
            raise StatementFailed(None, exc, self, outcome_unknown=True) from exc

    def backup(self, path: Path) -> None:
        from sqlmigrations.backup import backup_postgresql

        backup_postgresql(self.connection, path)


@contextmanager
def _advisory_lock(vendor: PostgreSQL, timeout: float, on_wait: OnWait | None) -> Iterator[None]:
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
