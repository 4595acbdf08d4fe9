"""PostgreSQL: pglast splitting, a session advisory lock (pg_locks.py), one message
per migration, and every migration starting from the session state the run began
with (pg_session.py)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, Error, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from sqlmigrations.batch import BatchFailed, can_batch, run_batch
from sqlmigrations.database import connect
from sqlmigrations.errors import (
    NO_TRANSACTION_HINT,
    DatabaseMessage,
    DatabaseUnavailable,
    LockTimeout,
    one_line,
)
from sqlmigrations.sql import Statement, _split_postgresql
from sqlmigrations.vendors import pg_verify
from sqlmigrations.vendors.base import (
    Blockers,
    HistoryChange,
    OnWait,
    ServerFacts,
    StatementFailed,
    Vendor,
)
from sqlmigrations.vendors.pg_driver import (
    copy_without_wait_callback,
    in_transaction,
    interruptible,
    interruption_first,
    is_connect_timeout,
    is_psycopg3,
    parameter_status,
    require_parser,
    sqlstate,
    unfollowed_encoding,
)
from sqlmigrations.vendors.pg_locks import (
    LOOK_EVERY,
    BlockerWatcher,
    advisory_lock,
    history_lock_holders,
)
from sqlmigrations.vendors.pg_session import (
    STRINGS,
    STRINGS_ON,
    SessionState,
    capture_session,
    turns_strings_off,
)
from sqlmigrations.vendors.pg_snapshot import Catalog
from sqlmigrations.waits import milliseconds

if TYPE_CHECKING:
    from sqlmigrations.recorder import MigrationRecorder
    from sqlmigrations.snapshot import Snapshot
    from sqlmigrations.waits import WaitLimits


# First words of statements that may begin or end a transaction; the parser then
# tells them from SAVEPOINT-style ones and from PREPARE of a query.
# Statements PostgreSQL refuses inside a transaction block start with one of these.
_OUTSIDE_WORDS = {"CREATE", "DROP", "VACUUM", "REINDEX", "ALTER"}
_TRANSACTION_WORDS = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "PREPARE"}


class PostgreSQL(Vendor):
    name = "postgresql"
    backup_suffix = ".dump"

    def __init__(self, connection: BaseDatabaseWrapper):
        require_parser()  # before anything connects or is read: exit 2, nothing ran
        super().__init__(connection)
        self._watcher: BlockerWatcher | None = None

    def split_text(self, text: str) -> list[Statement]:
        return _split_postgresql(text)

    def outside_transaction_only(self, statement: Statement) -> str | None:
        word = re.match(r"[A-Za-z]*", statement.sql)
        if (word.group().upper() if word else "") not in _OUTSIDE_WORDS:
            return None
        from pglast import ast
        from pglast import parser as pg_parser

        node = pg_parser.parse_sql(statement.sql)[0].stmt
        words = statement.sql.split()
        concurrently = isinstance(node, ast.IndexStmt | ast.DropStmt) and node.concurrent
        if isinstance(node, ast.ReindexStmt):
            concurrently = any(p.defname == "concurrently" for p in node.params or ())
        if concurrently:
            upper = [w.upper() for w in words]
            return " ".join(words[: upper.index("CONCURRENTLY") + 1])
        if isinstance(node, ast.VacuumStmt) and node.is_vacuumcmd:
            return "VACUUM"
        outside = (
            ast.CreatedbStmt,
            ast.DropdbStmt,
            ast.AlterSystemStmt,
            ast.CreateTableSpaceStmt,
            ast.DropTableSpaceStmt,
        )
        return " ".join(words[:2]) if isinstance(node, outside) else None

    def execute_statement(self, cursor: Any, statement: Statement) -> None:
        """psycopg2's execute() refuses COPY FROM STDIN and TO STDOUT (psycopg 3 runs
        both in a migration's message): its copy_expert() runs them instead, so a
        file does the same under either driver."""
        direction = None if is_psycopg3(self.connection) else _copy_direction(statement)
        if direction is None:
            cursor.execute(statement.sql)
            return
        with self.connection.wrap_database_errors:
            copy_without_wait_callback(cursor, statement.sql, from_stdin=direction == "from")

    def failing_sql(self, message: str) -> str:
        literal = "'" + message.replace("'", "''") + "'"
        tag = "$sqlmigrate$"
        while tag in message:  # a dollar quote the message cannot end
            tag = tag[:-1] + "_$"
        return f"DO {tag} BEGIN RAISE EXCEPTION {literal}; END {tag};\n"

    def rename_table(self, old: str, new: str) -> None:
        """Its indexes (a primary key's too) keep their names otherwise, and creating
        ``old`` again would collide with ``old``_pkey."""
        quote = self.connection.ops.quote_name
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT i.relname FROM pg_catalog.pg_index x "
                "JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = pg_catalog.to_regclass(%s)",
                [quote(old)],
            )
            indexes = [row[0] for row in cursor.fetchall()]
            cursor.execute(f"ALTER TABLE {quote(old)} RENAME TO {quote(new)}")
            for index in indexes:
                if index.startswith(old):
                    renamed = new + index[len(old) :]
                    cursor.execute(f"ALTER INDEX {quote(index)} RENAME TO {quote(renamed)}")

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
        """The driver's diagnostics: the server's primary message, its position, DETAIL
        and HINT (psycopg 3 and psycopg2 name them alike)."""
        code = sqlstate(error)
        if not code:
            # psycopg2 gives a FATAL (a terminated session) no code: the server's
            # line, without libpq's severity prefix and libpq's own lines after it.
            server = re.match(r"(?:FATAL|PANIC|ERROR):\s+(.+)", str(error).strip())
            if server:
                return DatabaseMessage(one_line(server.group(1)), None)
            return super().error_message(error, in_transaction)
        diag = error.diag  # type: ignore[attr-defined]
        notes = [f"DETAIL: {one_line(diag.message_detail)}"] if diag.message_detail else []
        if diag.message_hint:
            notes.append(f"HINT: {one_line(diag.message_hint)}")
        if code == "25001" and in_transaction:  # active_sql_transaction
            notes.append(f"HINT: {NO_TRANSACTION_HINT}")
        return DatabaseMessage(
            text=one_line(diag.message_primary or "") or one_line(str(error)),
            code=f"SQLSTATE {code}",
            position=int(diag.statement_position) if diag.statement_position else None,
            notes=tuple(notes),
        )

    def statement_problem(self, statement: Statement, transactional: bool) -> str | None:
        if turns_strings_off(statement):
            return (
                f"may turn {STRINGS} off, which decides where the file's later strings "
                "end; migrations always run with it on, as they are split. Remove it "
                "(write E'...' for a string with backslash escapes)."
            )
        return super().statement_problem(statement, transactional)

    def run_lock(self, timeout: float, on_wait: OnWait | None) -> AbstractContextManager[None]:
        return advisory_lock(self, timeout, on_wait)

    # Session state -----------------------------------------------------------

    _session: SessionState | None = None  # while a run holds run_session()

    @contextmanager
    def run_session(self) -> Iterator[None]:
        self._session = session = capture_session(self.connection)
        try:
            with interruptible(self.connection):
                yield
        finally:
            self._session = None
            # The caller's connection lives on (Python API): its own strings setting
            # back, unless the connection is gone (no reconnecting just for that).
            if self.connection.connection is not None and not self.connection.connection.closed:
                with contextlib.suppress(Error), self.connection.cursor() as cursor:
                    cursor.execute(session.strings_setting)

    def before_message(self) -> None:
        """The server reads a whole message with the strings setting in force when it
        arrives. It reports each change of it (GUC_REPORT), so the driver knows the value
        without asking: a SET goes out only when something turned it off."""
        conn = self.connection.connection
        if conn is None:
            return
        if parameter_status(conn, STRINGS) != "on":
            with self.connection.cursor() as cursor:
                cursor.execute(STRINGS_ON)
        encoding = unfollowed_encoding(conn)
        if encoding:
            # Raised where the driver's own encoding errors are: the statement fails.
            raise UnicodeError(
                f"client_encoding was set to {encoding}, which psycopg2 does not follow: "
                "this statement would be sent in another encoding than the server reads. "
                "Remove the SET client_encoding."
            )

    def _restore_statements(self, statements: list[Statement]) -> list[str]:
        if self._session is None or not statements:
            return []
        prepares = any(s.sql[:7].upper() == "PREPARE" for s in statements)
        return self._session.restore_statements(self.connection.connection, prepares=prepares)

    @contextmanager
    def bookkeeping(self, timeout: float) -> Iterator[None]:
        if self.connection.in_atomic_block:
            yield  # a SET LOCAL would outlive this, in the caller's transaction
            return
        try:
            with transaction.atomic(using=self.connection.alias):
                if timeout:
                    with self.connection.cursor() as cursor:
                        cursor.execute(f"SET LOCAL lock_timeout = '{milliseconds(timeout)}ms'")
                yield
        except DatabaseError as exc:
            if sqlstate(exc.__cause__) != "55P03":  # lock_not_available
                raise
            raise LockTimeout(
                f"the runner's own query of its history table waited {timeout:g}s for a "
                f"lock held by another session ({history_lock_holders(self.connection)}); "
                "nothing more was run. End that session's transaction, or raise --lock-timeout."
            ) from exc

    def transaction_left_open(self) -> bool:
        return in_transaction(self.connection.connection)

    def restore_session(self, statements: list[Statement]) -> None:
        with self.connection.cursor() as cursor:
            for sql in self._restore_statements(statements):
                cursor.execute(sql)

    def run_in_transaction(
        self,
        statements: list[Statement],
        change: HistoryChange,
        recorder: MigrationRecorder,
        limits: WaitLimits | None = None,
    ) -> None:
        # SET LOCAL first: the file's own SET comes later and wins, for its migration only.
        setup = [f"SET LOCAL {name} = {value}" for name, value in _settings(limits).items()]
        if not can_batch(self.connection):
            # Inside a caller's transaction (a savepoint of theirs), or under psycopg2
            # (its own transaction): statement by statement, the history row last.
            with interruption_first(), self.history_failures(), self.write_transaction():
                with self.connection.cursor() as cursor:
                    for sql in setup:
                        cursor.execute(sql)
                self.execute(statements, in_transaction=True)
                recorder.record(change)
            return
        history = recorder.record_sql(change)
        restore = self._restore_statements(statements)
        with self.history_failures():  # nothing of the migration was sent yet
            self.before_message()
        try:
            stored = run_batch(
                self.connection, [*(s.sql for s in statements), *restore, history], setup
            )
        except BatchFailed as failed:
            # Past the file's statements: restoring the session, its history row,
            # or COMMIT (a deferred constraint), which have no line in the file;
            # before them, the runner's own SET LOCAL (a negative index).
            inside = 0 <= failed.index < len(statements)
            statement = statements[failed.index] if inside else None
            raise StatementFailed(
                statement, failed.error, self, sent_at=failed.offset
            ) from failed.error
        except UnicodeError as exc:
            # The text cannot be encoded for the connection: nothing was sent.
            raise StatementFailed(None, exc, self) from exc
        except DatabaseError as exc:
            # The exchange itself broke (the connection was lost): the server may
            # have committed the whole message, or none of it.
            raise StatementFailed(None, exc, self, outcome_unknown=True) from exc
        if change.applied and stored is not None:
            change.execution_ms = int(stored)

    # Waiting for other sessions ----------------------------------------------

    def lock_conflict(self, failure: StatementFailed) -> str | None:
        # lock_not_available: lock_timeout, or NOWAIT; deadlock_detected: the server
        # chose this transaction to break a cycle with another session.
        return {"SQLSTATE 55P03": "lock timeout", "SQLSTATE 40P01": "deadlock"}.get(
            failure.code or ""
        )

    @contextmanager
    def watch_blockers(
        self, limits: WaitLimits, on_wait: OnWait | None = None
    ) -> Iterator[Blockers]:
        """A second session asks pg_blocking_pids() about the runner's while it runs:
        the server's own answer to whom it waits for. It connects only after a
        while, so a migration that does not wait costs nothing."""
        blockers = Blockers(on_first_sight=on_wait)
        if self.connection.connection is None:
            yield blockers
            return
        # At least three looks within any wait that reaches the timeout, and
        # several within deadlock_timeout (1s by default), after which the server
        # may end the wait as a deadlock.
        interval = min(max((limits.lock_timeout or 1.0) / 4, 0.05), LOOK_EVERY)
        if self._watcher is None:
            self._watcher = BlockerWatcher(
                self.connection.Database,  # type: ignore[attr-defined]
                self.connection.get_connection_params(),
                self.connection.settings_dict,
            )
        self._watcher.arm(self.connection.connection.info.backend_pid, interval, blockers)
        try:
            yield blockers
        finally:
            self._watcher.disarm()

    def stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    @contextmanager
    def session_limits(self, limits: WaitLimits) -> Iterator[None]:
        wanted = _settings(limits)
        previous: dict[str, str] = {}
        with self.connection.cursor() as cursor:
            for name, value in wanted.items():
                cursor.execute(
                    "SELECT current_setting(%s), set_config(%s, %s, false)",
                    [name, name, value.strip("'")],
                )
                previous[name] = cursor.fetchone()[0]
        try:
            yield
        finally:
            # A broken connection is closed anyway; nothing to restore then (psycopg2
            # says so with an InterfaceError, which is no DatabaseError).
            with contextlib.suppress(Error), self.connection.cursor() as cursor:
                for name, value in previous.items():
                    cursor.execute("SELECT set_config(%s, %s, false)", [name, value])

    # Connecting --------------------------------------------------------------

    def bound_connecting(self, timeout: float) -> None:
        # libpq's connect_timeout; the driver alone would wait 130s per host.
        options = self.connection.settings_dict.setdefault("OPTIONS", {})
        chosen = "connect_timeout" in options or os.environ.get("PGCONNECT_TIMEOUT")
        if timeout and not chosen:
            options["connect_timeout"] = max(2, round(timeout))  # libpq's minimum is 2

    def explain_connect_error(self, exc: Exception) -> str | None:
        if not is_connect_timeout(exc.__cause__ or exc):
            return None
        # As libpq reads it: whole seconds, at least 2.
        options = self.connection.settings_dict.get("OPTIONS", {})
        value = options.get("connect_timeout", os.environ.get("PGCONNECT_TIMEOUT"))
        try:
            timeout = max(2, int(float(value)))
        except (TypeError, ValueError):
            return None
        return (
            f"no answer within {timeout}s (connect timeout: SQLMIGRATIONS_CONNECT_TIMEOUT, "
            "or connect_timeout in the URL or OPTIONS)"
        )

    # Lint --------------------------------------------------------------------

    linter = "squawk"

    def server_facts(self) -> ServerFacts:
        try:
            connect(self.connection, self.explain_connect_error)
            with self.connection.cursor() as cursor:
                cursor.execute(
                    "SELECT name, setting::bigint FROM pg_settings"
                    " WHERE name IN ('lock_timeout', 'statement_timeout')"
                )
                timeouts = dict(cursor.fetchall())
        except (DatabaseUnavailable, DatabaseError) as exc:
            return ServerFacts(unread=str(exc))
        number = self.connection.pg_version  # type: ignore[attr-defined]
        return ServerFacts(
            version=f"{number // 10000}.{number % 10000}",
            lock_timeout_ms=timeouts.get("lock_timeout"),
            statement_timeout_ms=timeouts.get("statement_timeout"),
        )

    # Verifying (see pg_verify.py) ------------------------------------------------

    _catalog: Catalog | None = None

    def snapshot(self) -> Snapshot:
        if self._catalog is None:
            self._catalog = Catalog()  # keeps definitions between this vendor's snapshots
        return self._catalog.snapshot(self.connection)

    def scratch_name(self) -> str:
        return pg_verify.scratch_name(self.connection)

    def create_scratch(self, name: str, *, keep: bool, replace: bool) -> bool:
        # Reach the server as every command does first: one bounded connect with a
        # one-line reason. Django's connection for CREATE DATABASE would try the
        # 'postgres' database, warn, then try again: twice the wait, unexplained.
        connect(self.connection, self.explain_connect_error)
        return pg_verify.create_scratch(self.connection, name, keep=keep, replace=replace)

    def drop_scratch(self, name: str) -> None:
        pg_verify.drop_scratch(self.connection, name)

    def backup(self, path: Path) -> None:
        from sqlmigrations.backup import backup_postgresql

        backup_postgresql(self.connection, path)


def _copy_direction(statement: Statement) -> str | None:
    """COPY ... FROM STDIN: "from"; COPY ... TO STDOUT: "to"; anything else: None."""
    word = re.match(r"[A-Za-z]*", statement.sql)
    if not word or word.group().upper() != "COPY":
        return None
    from pglast import ast
    from pglast import parser as pg_parser

    node = pg_parser.parse_sql(statement.sql)[0].stmt
    if not isinstance(node, ast.CopyStmt) or node.filename is not None or node.is_program:
        return None
    return "from" if node.is_from else "to"


def _settings(limits: WaitLimits | None) -> dict[str, str]:
    """The server settings ``limits`` ask for, as SQL literals (None: leave it)."""
    if limits is None:
        return {}
    wanted = {"lock_timeout": limits.lock_timeout, "statement_timeout": limits.statement_timeout}
    return {
        name: f"'{milliseconds(value)}ms'" for name, value in wanted.items() if value is not None
    }
