"""What every database vendor provides to the runner: the one seam between them.

The planner and executor never look at ``connection.vendor``: they ask the
vendor object to split a file, check a statement, lock the database for a run,
run one migration with its history change, and write a backup. Adding a
database is adding a module beside this one that implements ``Vendor``.
"""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from django.db import DatabaseError, Error, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from sqlmigrations.errors import DatabaseMessage, mask_secrets, masked, one_line
from sqlmigrations.sql import Statement, refuse_nul

if TYPE_CHECKING:
    from sqlmigrations.files import Migration
    from sqlmigrations.recorder import MigrationRecorder
    from sqlmigrations.snapshot import Snapshot
    from sqlmigrations.waits import WaitLimits

OnWait = Callable[[str], None]


@dataclass
class HistoryChange:
    """The history row a migration's transaction writes: inserted (up) or deleted (down)."""

    migration: Migration
    applied: bool
    started: float  # time.perf_counter() when the migration began, for execution_ms
    # What the row holds once written (up only): the duration every report prints.
    execution_ms: int | None = None

    def elapsed_ms(self) -> int:
        return round((time.perf_counter() - self.started) * 1000)


@dataclass(frozen=True)
class ServerFacts:
    """What the lint needs from the target server; None where it could not be read."""

    version: str | None = None  # e.g. "15.4"
    lock_timeout_ms: int | None = None  # the session's own (0: none)
    statement_timeout_ms: int | None = None
    unread: str | None = None  # why nothing could be read (the server did not answer)


class StatementFailed(Exception):
    """Carries a failing statement's position and the driver's error out of the transaction."""

    def __init__(
        self,
        statement: Statement | None,  # None: the failure has no line in the file
        exc: Exception,
        vendor: Vendor,
        *,
        in_transaction: bool = True,
        sent_at: int = 0,  # where the statement starts in the query text sent
        outcome_unknown: bool = False,
        message: str | None = None,  # the runner's own finding, instead of the driver's
    ):
        self.in_transaction = in_transaction
        self.outcome_unknown = outcome_unknown
        settings_dict = vendor.connection.settings_dict
        reported = masked(vendor.error_message(exc.__cause__ or exc, in_transaction), settings_dict)
        self.code: str | None = reported.code
        self.line = statement.line if statement is not None else None
        if statement is not None and reported.position:
            offset = reported.position - 1 - sent_at
            self.line = statement.line + statement.sql.count("\n", 0, offset)
        self.message = mask_secrets(message, settings_dict) if message else reported.lines()
        # Lines the runner adds under the database's message (whom it waited for).
        self.explanation: list[str] = []
        super().__init__(self.message)


class Blockers:
    """Who a migration's attempt waited for, as the vendor could see it while it waited."""

    def __init__(self, known: str | None = None, on_first_sight: OnWait | None = None):
        self.seen = known
        self._on_first_sight = on_first_sight

    def saw(self, description: str) -> None:
        first = self.seen is None
        self.seen = description
        if first and self._on_first_sight is not None:
            self._on_first_sight(description)

    def describe(self) -> str:
        return self.seen or "blocked by a session that could not be identified (it may have ended)"


class Vendor(ABC):
    """One database vendor, bound to one Django connection."""

    name: ClassVar[str]  # as Django names it: connection.vendor
    backup_suffix: ClassVar[str]  # the backup file's extension, e.g. ".dump"

    def __init__(self, connection: BaseDatabaseWrapper):
        self.connection = connection

    # Errors ------------------------------------------------------------------

    def error_message(self, error: BaseException, in_transaction: bool) -> DatabaseMessage:
        """What the driver said about a failed statement, read for the terminal.

        ``in_transaction``: the statement ran in the migration's transaction, so an
        error saying it cannot run in one may add a hint naming the file directive.
        """
        return DatabaseMessage(one_line(str(error)) or type(error).__name__, None)

    # Files -------------------------------------------------------------------

    def split(self, text: str) -> list[Statement]:
        """The file's statements with their lines; SqlSyntaxError when it cannot be split."""
        refuse_nul(text)
        return self.split_text(text)

    @abstractmethod
    def split_text(self, text: str) -> list[Statement]:
        """This vendor's splitter, on text known to hold no NUL character."""

    @abstractmethod
    def transaction_control(self, statement: Statement) -> str | None:
        """The statement's command if it would begin or end a transaction itself."""

    def outside_transaction_only(self, statement: Statement) -> str | None:
        """What the statement is (``CREATE INDEX CONCURRENTLY``) when this database
        refuses to run it inside a transaction block; None for any other."""
        return None

    @abstractmethod
    def failing_sql(self, message: str) -> str:
        """Statements that fail with ``message`` when run: a down file that must not
        succeed silently (an imported migration with no way back)."""

    @abstractmethod
    def rename_table(self, old: str, new: str) -> None:
        """Rename a table in the current transaction, with whatever this vendor names
        after it (PostgreSQL's indexes), so ``old`` can be created anew."""

    def statement_problem(self, statement: Statement, transactional: bool) -> str | None:
        """Why the runner refuses this statement in a file, before anything runs."""
        if transactional and (command := self.transaction_control(statement)):
            return (
                f"{command} would begin or end a transaction inside the migration's own. "
                "Remove it (each migration already runs in one transaction), or put "
                "'-- sqlmigrate: no-transaction' on the file's first line to manage "
                "transactions yourself."
            )
        return None

    # Locking -----------------------------------------------------------------

    @abstractmethod
    def run_lock(self, timeout: float, on_wait: OnWait | None) -> AbstractContextManager[None]:
        """Held for a whole run: no other runner plans or runs meanwhile."""

    # Running -----------------------------------------------------------------

    @abstractmethod
    def run_in_transaction(
        self,
        statements: list[Statement],
        change: HistoryChange,
        recorder: MigrationRecorder,
        limits: WaitLimits | None = None,
    ) -> None:
        """Run a migration and its history change atomically; StatementFailed on error.

        ``limits`` bound its waits for other sessions' locks (and on PostgreSQL its
        statements' time); the file's own statements may still change them for itself.
        """

    # Waiting for other sessions ----------------------------------------------

    def lock_conflict(self, failure: StatementFailed) -> str | None:
        """What went wrong ("lock timeout", "deadlock") when the statement failed only
        because of another session's locks: in a transaction, nothing was done and
        it can be tried again. None for any other failure."""
        return None

    def watch_blockers(
        self, limits: WaitLimits, on_wait: OnWait | None = None
    ) -> AbstractContextManager[Blockers]:
        """Held around one attempt: finds out whom the migration waits for while it
        waits (once the attempt fails, its wait and what it waited on are gone).
        ``on_wait`` is told the first time, for a wait with no limit to end it."""
        return nullcontext(Blockers())

    def stop_watching(self) -> None:  # noqa: B027 (optional hook)
        """The run is over: release what watch_blockers() kept between migrations."""

    def session_limits(self, limits: WaitLimits) -> AbstractContextManager[None]:
        """``limits`` for the statements of a no-transaction file, restored after."""
        return nullcontext()

    # Connecting --------------------------------------------------------------

    def bound_connecting(self, timeout: float) -> None:  # noqa: B027 (optional hook)
        """Make connecting give up after ``timeout`` seconds unless the user chose."""

    def explain_connect_error(self, exc: Exception) -> str | None:
        """A clearer reason than the driver's for a failed connection, if there is one."""
        return None

    def run_session(self) -> AbstractContextManager[None]:
        """Held for a whole run, inside run_lock: each migration starts from the
        session state the run found (see PostgreSQL)."""
        return nullcontext()

    def execute(self, statements: list[Statement], *, in_transaction: bool) -> None:
        """Statements one after another on Django's cursor, then the session put back
        as the run found it (restore_session), before the history is written."""
        try:
            with self.connection.cursor() as cursor:
                for statement in statements:
                    try:
                        self.before_message()
                        self.execute_statement(cursor, statement)
                    # UnicodeError: text the connection's encoding (a file may SET
                    # client_encoding) cannot carry; the driver raises it, not the server.
                    except (DatabaseError, UnicodeError) as exc:
                        raise StatementFailed(
                            statement, exc, self, in_transaction=in_transaction
                        ) from exc
            if not in_transaction:
                self._check_outside_transaction()
        except BaseException:
            if not in_transaction:  # what ran is committed, its settings too
                # Error: psycopg2 says InterfaceError (not a DatabaseError) once the
                # connection is gone, and the failure itself must be reported.
                with contextlib.suppress(Error):
                    self.restore_session(statements)
            raise  # in a transaction, its rollback undoes what the statements changed
        try:
            self.restore_session(statements)
        except DatabaseError as exc:
            failed = StatementFailed(None, exc, self, in_transaction=in_transaction)
            raise failed from exc

    def execute_statement(self, cursor: Any, statement: Statement) -> None:
        """Send one statement of a migration file (a vendor may need its driver's
        own call for some kinds)."""
        cursor.execute(statement.sql)

    def _check_outside_transaction(self) -> None:
        """After a no-transaction file: a transaction it began and never ended would
        hold its last statements uncommitted (and then lose them): roll it back and
        say so, rather than let the runner's next write fail on it."""
        if self.transaction_left_open():
            with contextlib.suppress(Error), self.connection.cursor() as cursor:
                cursor.execute("ROLLBACK")
            message = (
                "the file left a transaction open (a BEGIN without COMMIT); it was rolled "
                "back, so its statements after that BEGIN were not applied"
            )
            raise StatementFailed(
                None, DatabaseError(message), self, in_transaction=False, message=message
            )
        self.check_outside_transaction()

    def transaction_left_open(self) -> bool:
        """True when the connection is inside a transaction Django did not begin."""
        return False

    def check_outside_transaction(self) -> None:  # noqa: B027 (a hook)
        """After a no-transaction file's statements: the vendor's own consistency check."""

    def restore_session(self, statements: list[Statement]) -> None:  # noqa: B027 (a hook)
        """After a migration's ``statements`` ran one by one: put back the connection's
        settings as run_session() found them, so the next migration starts alike."""

    def before_message(self) -> None:  # noqa: B027 (a hook: most vendors need nothing)
        """Called before each message of a migration's statements goes to the server."""

    @contextmanager
    def history_failures(self) -> Iterator[None]:
        """Turn a failure outside the file's statements (the history write, COMMIT) into
        the migration's failure, so it is reported with its name like any other."""
        try:
            yield
        except StatementFailed:
            raise
        except DatabaseError as exc:
            if self.is_busy(exc):
                raise  # the wait for another connection, reported as such by run_lock
            raise StatementFailed(None, exc, self) from exc

    def is_busy(self, exc: DatabaseError) -> bool:
        """True when ``exc`` means another connection held a lock too long."""
        return False

    def bookkeeping(self, timeout: float) -> AbstractContextManager[None]:
        """Around the runner's own queries of its history table: their lock waits
        end after ``timeout`` seconds with LockTimeout. By default the vendor's
        busy handling (set up by run_lock) bounds them already."""
        return nullcontext()

    def write_transaction(self) -> AbstractContextManager[None]:
        """A short transaction of the runner's own (history bookkeeping)."""
        return transaction.atomic(using=self.connection.alias)

    # Lint --------------------------------------------------------------------

    # The linter for this vendor's files ("squawk" for PostgreSQL); None: none of
    # squawk's rules apply, and lint_notice says which checks do.
    linter: ClassVar[str | None] = None
    lint_notice: ClassVar[str] = ""

    def server_facts(self) -> ServerFacts:
        """The server's version and the session's own timeouts, when it answers."""
        return ServerFacts()

    # Verifying reversibility (sqlmigrate_verify) --------------------------------

    @abstractmethod
    def snapshot(self) -> Snapshot:
        """The schema as the catalog describes it, and each table's row count: names
        and definitions without OIDs, so the same schema gives the same snapshot."""

    @abstractmethod
    def scratch_name(self) -> str:
        """The scratch database's name, as Django names this database's test copy."""

    @abstractmethod
    def create_scratch(self, name: str, *, keep: bool, replace: bool) -> bool:
        """Create the scratch database ``name``; True when it existed and ``keep``
        reuses it. An existing one is replaced only with ``replace`` (else UsageError)."""

    @abstractmethod
    def drop_scratch(self, name: str) -> None:
        """Remove the scratch database (nobody may be connected to it any more)."""

    # Backups -----------------------------------------------------------------

    @abstractmethod
    def backup(self, path: Path) -> None:
        """Write a restorable copy of the database to ``path``; BackupFailed on error.

        backup.write_backup gives a temporary name and renames it when this returns."""
