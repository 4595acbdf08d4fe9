"""PostgreSQL: pglast splitting, a session advisory lock, one message per migration,
and every migration starting from the session state the run began with.

Session state: a plain SET (search_path, role, timeouts, DateStyle, a custom
``myapp.x``) lasts for the rest of a session, so without a reset the same files
would give another schema depending on how runs are split. The state is noted
once per run, after Django's own connection set-up (time zone, ``assume_role``),
and put back at the end of every migration by statements of its own message,
before its history row. RESET ALL restores what the server, database, role and
connection string set; what was SET after connecting is set again by name; the
role, which RESET ALL leaves alone, explicitly. DISCARD ALL would also release
the run's advisory lock, so temporary tables and prepared statements are dropped
one kind at a time.

standard_conforming_strings decides where a string literal ends. pglast always
reads files with it on, and the server reads a whole message with the value in
force when the message arrives: the runner keeps it on for every message it
sends, and refuses files that would turn it off.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from sqlmigrations.batch import BatchFailed, can_batch, run_batch
from sqlmigrations.errors import (
    NO_TRANSACTION_HINT,
    DatabaseMessage,
    LockTimeout,
    mask_secrets,
    one_line,
)
from sqlmigrations.sql import Statement, _split_postgresql
from sqlmigrations.vendors.base import (
    Blockers,
    HistoryChange,
    OnWait,
    StatementFailed,
    Vendor,
)
from sqlmigrations.waits import milliseconds, seconds

if TYPE_CHECKING:
    from sqlmigrations.recorder import MigrationRecorder
    from sqlmigrations.waits import WaitLimits

# A fixed key: advisory locks are already scoped to one database.
ADVISORY_LOCK_KEY = 0x53514D47  # "SQMG"
POLL_INTERVAL = 0.2
# Seconds between looks at whom a migration waits for (and before the first).
LOOK_EVERY = 0.25

# First words of statements that may begin or end a transaction; the parser then
# tells them from SAVEPOINT-style ones and from PREPARE of a query.
_TRANSACTION_WORDS = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "PREPARE"}

STRINGS = "standard_conforming_strings"
STRINGS_ON = f"SET {STRINGS} = on"


class PostgreSQL(Vendor):
    name = "postgresql"
    backup_suffix = ".dump"

    def __init__(self, connection: BaseDatabaseWrapper):
        super().__init__(connection)
        self._watcher: _BlockerWatcher | None = None

    def split_text(self, text: str) -> list[Statement]:
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

    def statement_problem(self, statement: Statement, transactional: bool) -> str | None:
        if turns_strings_off(statement):
            return (
                f"may turn {STRINGS} off, which decides where the file's later strings "
                "end; migrations always run with it on, as they are split. Remove it "
                "(write E'...' for a string with backslash escapes)."
            )
        return super().statement_problem(statement, transactional)

    def run_lock(self, timeout: float, on_wait: OnWait | None) -> AbstractContextManager[None]:
        return _advisory_lock(self, timeout, on_wait)

    # Session state -----------------------------------------------------------

    _session: SessionState | None = None  # while a run holds run_session()

    @contextmanager
    def run_session(self) -> Iterator[None]:
        self._session = session = _capture(self.connection)
        try:
            yield
        finally:
            self._session = None
            # The caller's connection lives on (Python API): its own strings setting
            # back, unless the connection is gone (no reconnecting just for that).
            if self.connection.connection is not None and not self.connection.connection.closed:
                with contextlib.suppress(DatabaseError), self.connection.cursor() as cursor:
                    cursor.execute(session.strings_setting)

    def before_message(self) -> None:
        """The server reads a whole message with the strings setting in force when it
        arrives. It reports each change of it (GUC_REPORT), so psycopg knows the value
        without asking: a SET goes out only when something turned it off."""
        conn = self.connection.connection
        if conn is not None and conn.pgconn.parameter_status(STRINGS.encode()) != b"on":
            with self.connection.cursor() as cursor:
                cursor.execute(STRINGS_ON)

    def _restore_statements(self, statements: list[Statement]) -> list[str]:
        if self._session is None or not statements:
            return []
        prepares = any(s.sql[:7].upper() == "PREPARE" for s in statements)
        return self._session.restore_statements(self.connection.connection, prepares=prepares)

    def transaction_left_open(self) -> bool:
        from psycopg import pq

        status = self.connection.connection.info.transaction_status
        return bool(status != pq.TransactionStatus.IDLE)

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
            # Inside a caller's transaction: a savepoint of theirs, statement by statement.
            with self.history_failures(), self.write_transaction():
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
            run_batch(self.connection, [*(s.sql for s in statements), *restore, history], setup)
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
            self._watcher = _BlockerWatcher(
                self.connection.get_connection_params(), self.connection.settings_dict
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
            # A broken connection is closed anyway; nothing to restore then.
            with contextlib.suppress(DatabaseError), self.connection.cursor() as cursor:
                for name, value in previous.items():
                    cursor.execute("SELECT set_config(%s, %s, false)", [name, value])

    # Connecting --------------------------------------------------------------

    def bound_connecting(self, timeout: float) -> None:
        # libpq's connect_timeout; psycopg alone would wait 130s per host.
        options = self.connection.settings_dict.setdefault("OPTIONS", {})
        chosen = "connect_timeout" in options or os.environ.get("PGCONNECT_TIMEOUT")
        if timeout and not chosen:
            options["connect_timeout"] = max(2, round(timeout))  # libpq's minimum is 2

    def explain_connect_error(self, exc: Exception) -> str | None:
        if type(exc.__cause__ or exc).__name__ != "ConnectionTimeout":
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

    def backup(self, path: Path) -> None:
        from sqlmigrations.backup import backup_postgresql

        backup_postgresql(self.connection, path)


@dataclass(frozen=True)
class SessionState:
    """The session a run began with, to be put back after every migration."""

    session_user: str
    role: str  # current_setting('role'): 'none' unless SET ROLE (or assume_role) ran
    settings: tuple[tuple[str, str], ...]  # SET after connecting: RESET ALL would lose them
    temp_tables: bool  # the connection had temporary tables of its own already
    prepared: tuple[str, ...]  # statements it had PREPAREd already
    strings_setting: str  # puts back the strings setting when the run ends

    def restore_statements(self, conn: Any, *, prepares: bool) -> list[str]:
        """``prepares``: the migration PREPAREs statements, which are deallocated too."""
        from psycopg import sql

        def identifier(name: str) -> str:
            return sql.Identifier(name).as_string(conn)

        statements = ["RESET ALL", f"SET SESSION AUTHORIZATION {identifier(self.session_user)}"]
        if self.settings:
            values = sql.SQL(", ").join(
                sql.SQL("({}, {})").format(sql.Literal(name), sql.Literal(value))
                for name, value in self.settings
            )
            # set_config() reads a value as the configuration file would: a list
            # such as search_path stays a list.
            query = "SELECT pg_catalog.set_config(n, v, false) FROM (VALUES {}) AS s(n, v)"
            statements.append(sql.SQL(query).format(values).as_string(conn))
        statements.append(STRINGS_ON)
        statements.append(f"SET ROLE {'NONE' if self.role == 'none' else identifier(self.role)}")
        if not self.temp_tables:
            # Else a later migration's unqualified name could find one before the real table.
            statements.append("DISCARD TEMP")
        if prepares:
            kept = sql.SQL(", ").join(sql.Literal(name) for name in ("", *self.prepared))
            query = (
                "DO $sqlmigrations$ DECLARE n text; BEGIN FOR n IN SELECT name FROM "
                "pg_catalog.pg_prepared_statements WHERE from_sql AND name NOT IN ({}) "
                "LOOP EXECUTE pg_catalog.format('DEALLOCATE %I', n); END LOOP; END "
                "$sqlmigrations$"
            )
            statements.append(sql.SQL(query).format(kept).as_string(conn))
        return statements


def _capture(connection: BaseDatabaseWrapper) -> SessionState:
    """Note the session as the run finds it, and turn the strings setting on.

    SET (rather than trusting the server's default) makes the setting the
    session's own, which a configuration reload cannot change under the run.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT session_user, current_setting('role'), "
            "EXISTS (SELECT FROM pg_catalog.pg_class WHERE relnamespace = pg_my_temp_schema()), "
            "ARRAY(SELECT name FROM pg_catalog.pg_prepared_statements WHERE from_sql), "
            "(SELECT setting FROM pg_catalog.pg_settings WHERE name = %s), "
            "(SELECT source FROM pg_catalog.pg_settings WHERE name = %s)",
            [STRINGS, STRINGS],
        )
        session_user, role, temp_tables, prepared, strings, strings_source = cursor.fetchone()
        # transaction_isolation and the like belong to a caller's transaction, and
        # RESET ALL leaves them alone.
        cursor.execute(
            "SELECT name, setting FROM pg_catalog.pg_settings WHERE source = 'session' "
            "AND name <> %s AND left(name, 12) <> 'transaction_' ORDER BY name",
            [STRINGS],
        )
        settings = tuple((name, value) for name, value in cursor.fetchall())
        cursor.execute(STRINGS_ON)
    if strings_source == "session":
        strings_setting = f"SET {STRINGS} = {'on' if strings == 'on' else 'off'}"
    else:
        strings_setting = f"RESET {STRINGS}"
    return SessionState(session_user, role, settings, temp_tables, tuple(prepared), strings_setting)


def turns_strings_off(statement: Statement) -> bool:
    """True if the statement may turn standard_conforming_strings off in this session:
    a SET to anything but on, a RESET (to what the role or database says), or a
    set_config() of it not plainly to on.

    Run statement by statement, the rest of the file would be read otherwise than
    it was split; in one message, otherwise than psql runs it. pg_dump's own
    ``SET standard_conforming_strings = on`` is fine. ALTER ROLE, DATABASE or
    FUNCTION ... SET change other sessions and are fine too; a change hidden in a
    function body is undone before the next message (before_message).
    """
    if STRINGS not in statement.sql.lower():
        return False
    from pglast import ast
    from pglast import parser as pg_parser
    from pglast.enums.parsenodes import VariableSetKind
    from pglast.visitors import Visitor

    node = pg_parser.parse_sql(statement.sql)[0].stmt
    if isinstance(node, ast.VariableSetStmt):
        if (node.name or "").lower() != STRINGS:
            return False
        values = node.args or ()
        return not (
            node.kind == VariableSetKind.VAR_SET_VALUE and len(values) == 1 and _is_on(values[0])
        )

    class SetConfigCalls(Visitor):
        found = False

        def visit_FuncCall(self, ancestors: object, call: ast.FuncCall) -> None:
            name = call.funcname[-1].sval if call.funcname else None
            args = call.args or ()
            if (
                name == "set_config"
                and len(args) == 3
                and isinstance(args[0], ast.A_Const)
                and isinstance(args[0].val, ast.String)
                and (args[0].val.sval or "").lower() == STRINGS
                and not _is_on(args[1])
            ):
                self.found = True

    calls = SetConfigCalls()
    calls(node)  # type: ignore[arg-type]
    return calls.found


def _is_on(value: object) -> bool:
    """A constant the server reads as boolean true (its parse_bool)."""
    from pglast import ast

    if not isinstance(value, ast.A_Const):
        return False
    if isinstance(value.val, ast.Integer):
        return value.val.ival == 1
    if not isinstance(value.val, ast.String):
        return False
    text = (value.val.sval or "").strip().lower()
    return text in ("on", "1") or (
        text != "" and ("true".startswith(text) or "yes".startswith(text))
    )


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


def _settings(limits: WaitLimits | None) -> dict[str, str]:
    """The server settings ``limits`` ask for, as SQL literals (None: leave it)."""
    if limits is None:
        return {}
    wanted = {"lock_timeout": limits.lock_timeout, "statement_timeout": limits.statement_timeout}
    return {
        name: f"'{milliseconds(value)}ms'" for name, value in wanted.items() if value is not None
    }


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


class _BlockerWatcher:
    """One thread for a whole run, armed around each attempt: starting a thread per
    migration would cost more than a fast migration itself."""

    def __init__(self, params: dict[str, Any], settings_dict: dict[str, Any]):
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
        import psycopg

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
                        conn = psycopg.connect(**self.params, autocommit=True)
                    row = conn.execute(_BLOCKERS, [watch.runner_pid]).fetchone()
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
