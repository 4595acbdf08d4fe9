"""Run planned migrations, recording each step; the commands' one entry point.

Everything a command does goes through here, so deploy scripts and the test
runner hook take the same path as a person at a terminal. What to run is
decided by planner.py; how each database runs it, by its module in vendors/.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.db import DatabaseError

from sqlmigrations import conf
from sqlmigrations.backup import write_backup
from sqlmigrations.database import connect, get_connection
from sqlmigrations.errors import (
    InvalidMigrationFiles,
    MigrationFailed,
    MigrationInterrupted,
)
from sqlmigrations.files import Migration, SqlFile, find_migrations
from sqlmigrations.planner import (
    Applied,
    MigrationState,
    Planner,
    Step,
    pending_versions,
    problem_lines,
)
from sqlmigrations.recorder import MigrationRecorder
from sqlmigrations.signals import migration_applied, migration_reverted
from sqlmigrations.sql import Statement
from sqlmigrations.vendors import vendor_for
from sqlmigrations.vendors.base import HistoryChange, StatementFailed
from sqlmigrations.waits import WaitLimits, seconds

logger = logging.getLogger("sqlmigrations")

# Re-exported: the commands, the health view and tests import them from here.
__all__ = [
    "Executor",
    "MigrationState",
    "Progress",
    "ProgressCallback",
    "Step",
    "pending_versions",
    "problem_lines",
]


@dataclass(frozen=True)
class Progress:
    """What the executor reports while it works; commands turn it into output."""

    # apply_start, apply_success, unapply_start, unapply_success, failure, wait,
    # retry (a lock timeout; the migration is tried again), lock_wait (waiting for a
    # lock with no timeout), backup
    event: str
    migration: Migration | None = None
    elapsed_ms: int | None = None
    message: str = ""
    # With *_start: the step (its file and statements), and its place in the run
    # (1-based, total); message "again" when a retry starts it anew.
    step: Step | None = None
    counter: tuple[int, int] | None = None


ProgressCallback = Callable[[Progress], None]


class Executor:
    def __init__(
        self,
        database: str = "default",
        *,
        dirs: Sequence[Path] | None = None,
        progress: ProgressCallback | None = None,
        lock_timeout: float | None = None,
        statement_lock_timeout: float | None = None,
        lock_retries: int | None = None,
        statement_timeout: float | None = None,
    ):
        """``lock_timeout`` bounds the wait for another runner; the next three, each
        migration's own waits (see waits.py). None takes the setting."""
        self.connection = get_connection(database)
        self.alias = database
        self.vendor = self.connection.vendor
        self.database = vendor_for(self.connection)
        self.database.bound_connecting(conf.connect_timeout())
        self.limits = WaitLimits(
            conf.statement_lock_timeout()
            if statement_lock_timeout is None
            else statement_lock_timeout,
            conf.lock_retries() if lock_retries is None else lock_retries,
            conf.statement_timeout() if statement_timeout is None else statement_timeout,
        )
        self.dirs = list(dirs) if dirs is not None else conf.migration_dirs(database)
        self._report = progress or (lambda _: None)
        self.lock_timeout = conf.lock_timeout() if lock_timeout is None else lock_timeout
        self.recorder = MigrationRecorder(self.connection, is_busy=self.database.is_busy)
        self.skipped = conf.skipped_versions(database)
        self._planner: Planner | None = None
        self._checked: set[str] = set()
        self._counter: tuple[int, int] | None = None  # the migration under way, of how many

    # Reading -----------------------------------------------------------------

    def migrations(self) -> list[Migration]:
        return self._load().migrations

    def _load(self, direction: str | None = None) -> Planner:
        """The files, checked by name; with ``direction``, every file of it split and
        checked too. Problems of both kinds are reported together, before connecting."""
        if self._planner is None:
            migrations, self._file_problems = find_migrations(self.dirs, self.vendor)
            self._planner = Planner(migrations, self.database, self.skipped)
        problems = list(self._file_problems)
        if direction is not None and direction not in self._checked:
            try:
                self._planner.check_files(direction)
                self._checked.add(direction)
            except InvalidMigrationFiles as exc:
                problems += exc.problems
        if problems:
            raise InvalidMigrationFiles(problems)
        return self._planner

    def _applied(self) -> Applied:
        """The history, read without creating anything (not even a SQLite file)."""
        if not self.recorder.database_exists():
            return {}
        connect(self.connection, self.database.explain_connect_error)
        with self._bookkeeping():
            return self.recorder.applied()

    def statements(self, sql_file: SqlFile) -> list[Statement]:
        """One file's statements as a run would send them; InvalidMigrationFiles with
        the run's own messages if a run would refuse it. Reads the file only."""
        statements, problems = self._load().check_file(sql_file)
        if problems or statements is None:
            raise InvalidMigrationFiles(problems)
        return statements

    def status(self) -> list[MigrationState]:
        """Every version known from the files or the history, in order."""
        planner = self._load()
        return planner.status(self._applied())

    def plan_up(self, target: int | None = None, *, allow_out_of_order: bool = False) -> list[Step]:
        """What ``up`` would run, without writing anything (not even the history table)."""
        planner = self._load("up")
        return planner.plan_up(self._applied(), target, allow_out_of_order)

    def plan_down(self, steps: int | None = None, target: int | None = None) -> list[Step]:
        planner = self._load("down")
        return planner.plan_down(self._applied(), steps, target)

    def check_files(self) -> list[Migration]:
        """Every file of both directions read, split and checked, without connecting."""
        self._load("up")
        return self._load("down").migrations

    # Running -----------------------------------------------------------------

    def up(
        self,
        target: int | None = None,
        *,
        allow_out_of_order: bool = False,
        fake: bool = False,
        backup_dir: Path | None = None,
    ) -> list[Migration]:
        """Apply pending migrations in version order; returns those applied.

        ``fake`` records them without running their SQL, to adopt a database whose
        schema was made by other means. With ``backup_dir``, a backup is written
        there first (under the lock, so it is the state the run starts from).
        """
        planner = self._load("up")  # invalid files fail before connecting
        connect(self.connection, self.database.explain_connect_error)
        with self._lock(), self.database.run_session():
            # Planned from the history read under the lock, before anything is created.
            with self._bookkeeping():
                applied = self.recorder.applied()
            plan = planner.plan_up(applied, target, allow_out_of_order)
            with self._bookkeeping():
                self.recorder.ensure_table()
                self.recorder.locate()
            self._backup(plan, backup_dir, "up")
            return self._run(plan, "up", fake=fake)

    def down(
        self,
        steps: int | None = None,
        target: int | None = None,
        *,
        confirm: Callable[[list[Step]], None] | None = None,
        fake: bool = False,
        backup_dir: Path | None = None,
    ) -> list[Migration]:
        """Roll back the newest applied migrations (one by default); returns those reverted.

        ``confirm`` sees the plan made under the lock, so what a person approves is
        exactly what runs; it raises to cancel.
        """
        planner = self._load("down")
        if not self.recorder.database_exists():
            planner.plan_down({}, steps, target)  # still reject impossible options
            return []  # and do not create a SQLite file just to find it empty
        connect(self.connection, self.database.explain_connect_error)
        with self._lock(), self.database.run_session():
            with self._bookkeeping():
                self.recorder.locate()
                applied = self.recorder.applied()
            plan = planner.plan_down(applied, steps, target)
            if plan and confirm is not None:
                confirm(plan)
            self._backup(plan, backup_dir, "down")
            return self._run(plan, "down", fake=fake)

    def repair(self, *, dry_run: bool = False) -> list[str]:
        """Make the history match the files, after a person has decided it should.

        A changed file's stored checksum takes the new content's; the row of a
        migration whose files are gone is removed (whatever it created stays in
        the database); a failed no-transaction record is removed, making that
        migration pending again. Returns a line per change.
        """
        files = {m.version: m for m in self.migrations()}
        if not self.recorder.database_exists():
            return []
        connect(self.connection, self.database.explain_connect_error)
        with self._lock(), self._bookkeeping():
            changes = []
            for version, record in sorted(self.recorder.applied().items()):
                migration = files.get(version)
                if record.dirty:
                    changes.append(
                        f"Cleared the failed record of {record.name}: it is pending again "
                        "(make sure the database is as it was before it)."
                    )
                    if not dry_run:
                        self.recorder.record_unapplied(version)
                elif migration is None:
                    changes.append(
                        f"Forgot {record.name}: its files are gone; whatever it created "
                        "stays in the database."
                    )
                    if not dry_run:
                        self.recorder.record_unapplied(version)
                elif migration.checksum != record.checksum:
                    changes.append(
                        f"Accepted the new content of {record.name} "
                        f"(checksum {record.checksum[:12]} -> {migration.checksum[:12]})."
                    )
                    if not dry_run:
                        self.recorder.update_checksum(version, migration.checksum)
            for change in changes if not dry_run else []:
                logger.warning("Repair on database '%s': %s", self.alias, change)
            return changes

    @contextmanager
    def one_by_one(self) -> Iterator[None]:
        """Connected, holding the run lock and session for many run_one() calls, as
        one up() holds them for its whole plan (sqlmigrate_verify)."""
        self.check_files()
        connect(self.connection, self.database.explain_connect_error)
        with self._lock(), self.database.run_session():
            with self._bookkeeping():
                self.recorder.ensure_table()
                self.recorder.locate()
            try:
                yield
            finally:
                self.database.stop_watching()

    def run_one(self, migration: Migration, direction: str) -> None:
        """Apply (``"up"``) or revert one migration exactly as up() or down() would
        (its transaction, directives, retries, history row), inside one_by_one()."""
        step = self._load(direction).step(migration, direction)
        self._run_plan([step], direction, fake=False)

    def progress(self, progress: Progress) -> None:
        """Tell the caller, and the ``sqlmigrations`` logger, what is happening."""
        self._report(progress)
        label = progress.migration.label if progress.migration else ""
        if progress.event in ("apply_success", "unapply_success"):
            action = "Applied" if progress.event == "apply_success" else "Rolled back"
            faked = " (fake)" if progress.message == "faked" else ""
            logger.info(
                "%s %s%s on database '%s' in %d ms",
                action,
                label,
                faked,
                self.alias,
                progress.elapsed_ms,
            )
        elif progress.event == "failure":
            logger.error("%s failed on database '%s'", label, self.alias)
        elif progress.event == "backup":
            logger.info("Backup of database '%s' written to %s", self.alias, progress.message)
        elif progress.event == "wait":
            logger.info("%s", progress.message)
        elif progress.event == "lock_wait":
            logger.info("On database '%s': %s", self.alias, progress.message)
        elif progress.event == "retry":
            logger.warning("On database '%s': %s", self.alias, progress.message)

    def _backup(self, plan: list[Step], directory: Path | None, reason: str) -> None:
        if plan and directory is not None:
            path = write_backup(self.database, directory, reason)
            self.progress(Progress("backup", message=str(path)))

    def _bookkeeping(self) -> AbstractContextManager[None]:
        """The runner's own reads and writes of the history wait for others' locks
        on it no longer than for the runner's lock (--lock-timeout)."""
        return self.database.bookkeeping(self.lock_timeout)

    def _lock(self) -> AbstractContextManager[None]:
        return self.database.run_lock(
            self.lock_timeout,
            lambda message: self.progress(Progress("wait", message=message)),
        )

    def _run(self, plan: list[Step], direction: str, *, fake: bool = False) -> list[Migration]:
        try:
            return self._run_plan(plan, direction, fake)
        finally:
            self.database.stop_watching()

    def _run_plan(self, plan: list[Step], direction: str, fake: bool) -> list[Migration]:
        done: list[Migration] = []
        verb = "Applied" if direction == "up" else "Rolled back"
        event = "apply" if direction == "up" else "unapply"
        for index, step in enumerate(plan):
            self._counter = (index + 1, len(plan))
            self._started(step, event)
            started = time.perf_counter()
            outside = not fake and not step.sql_file.transactional
            limits = self.limits.for_file(step.sql_file)
            stored: int | None = None  # the history's execution_ms, what is reported
            try:
                if outside:
                    stored = self._run_outside_transaction(step, direction, started, limits)
                else:
                    change = HistoryChange(step.migration, direction == "up", started)
                    statements = [] if fake else step.statements
                    self._run_with_retries(step, statements, change, limits, event)
                    stored = change.execution_ms
            except KeyboardInterrupt:
                # The interrupt can land after the server committed (while its answer
                # was being read): the history, read back, says what really happened.
                committed = False if outside else self._committed(step, direction)
                if committed:
                    done.append(step.migration)
                else:
                    self.progress(Progress("failure", step.migration))
                raise MigrationInterrupted(
                    current=step.migration.label,
                    done=[m.label for m in done],
                    verb=verb,
                    outside_transaction=outside,
                    committed=committed,
                ) from None
            except StatementFailed as failure:
                self.progress(Progress("failure", step.migration))
                name = step.sql_file.path.name
                raise MigrationFailed(
                    location=name if failure.line is None else f"{name}:{failure.line}",
                    # The runner's findings follow the database's notes, as notes.
                    message="\n".join([failure.message, *(f"  {x}" for x in failure.explanation)]),
                    code=failure.code,
                    done=[m.label for m in done],
                    not_done=[s.migration.label for s in plan[index:]],
                    verb=verb,
                    outside_transaction=None if failure.in_transaction else step.migration.label,
                    outcome_unknown=step.migration.label if failure.outcome_unknown else None,
                ) from failure.__cause__
            elapsed = _ms_since(started) if stored is None else stored
            done.append(step.migration)
            self.progress(
                Progress(f"{event}_success", step.migration, elapsed, "faked" if fake else "")
            )
            signal = migration_applied if direction == "up" else migration_reverted
            signal.send(
                sender=Executor,
                version=step.migration.version,
                name=step.migration.label,
                database=self.alias,
                duration_ms=elapsed,
                fake=fake,
            )
        return done

    def _started(self, step: Step, event: str, *, again: bool = False) -> None:
        self.progress(
            Progress(
                f"{event}_start",
                step.migration,
                message="again" if again else "",
                step=step,
                counter=self._counter,
            )
        )

    def _committed(self, step: Step, direction: str) -> bool | None:
        """After an interrupt: did this migration's transaction commit all the same?

        None when the history cannot be read back (the run is ending anyway: a
        fresh connection is tried if the interrupt closed the run's own)."""
        for attempt in range(2):
            try:
                if attempt:
                    self.connection.close()
                    self.connection.ensure_connection()
                applied = self.recorder.is_applied(step.migration.version)
            except Exception:
                continue
            return applied == (direction == "up")
        return None

    def _run_with_retries(
        self,
        step: Step,
        statements: list[Statement],
        change: HistoryChange,
        limits: WaitLimits,
        event: str,
    ) -> None:
        """Run one migration in its transaction; while an attempt fails only on a
        lock timeout or a deadlock (it did nothing), pause and try the whole
        migration again."""
        label = step.migration.label
        for attempt in range(1, limits.attempts + 1):
            with self.database.watch_blockers(
                limits, self._unlimited_wait(step, limits, event)
            ) as blockers:
                try:
                    self.database.run_in_transaction(statements, change, self.recorder, limits)
                    return
                except StatementFailed as exc:
                    conflict = self.database.lock_conflict(exc)
                    if conflict is None:
                        _explain_statement_timeout(exc, limits)
                        raise
                    failure, blocked_by = exc, blockers.describe()
            if attempt == limits.attempts:
                gave_up = limits.gave_up(attempt, timed_out=conflict == "lock timeout")
                failure.explanation = [f"{blocked_by}; {gave_up}.", LOCK_ADVICE]
                raise failure
            pause = limits.pause(attempt)
            self.progress(
                Progress(
                    "retry",
                    step.migration,
                    message=f"{conflict} on {label} (attempt {attempt} of {limits.attempts}): "
                    f"{blocked_by}; retrying in {seconds(pause)}",
                )
            )
            time.sleep(pause)
            self._started(step, event, again=True)

    def _unlimited_wait(
        self, step: Step, limits: WaitLimits, event: str
    ) -> Callable[[str], None] | None:
        """With no lock timeout, a wait can last indefinitely: it is said once, when
        the watcher first sees it (from the watcher's thread; the run is blocked)."""
        if limits.lock_timeout:
            return None

        def tell(blocked_by: str) -> None:
            message = f"waiting for a lock with no lock timeout: {blocked_by}"
            self.progress(Progress("lock_wait", step.migration, message=message))
            self._started(step, event, again=True)

        return tell

    def _run_outside_transaction(
        self, step: Step, direction: str, started: float, limits: WaitLimits
    ) -> int | None:
        """A ``-- sqlmigrate: no-transaction`` file: each statement commits on its own.

        A dirty history row is written first and cleared last, so a failure or a
        kill midway leaves a record that stops every later run until a person
        decides what the database holds.
        """
        version = step.migration.version
        with self._bookkeeping(), self.database.write_transaction():
            if direction == "up":
                self.recorder.record_applied(step.migration, 0, dirty=True)
            else:
                self.recorder.mark_dirty(version)
        event = "apply" if direction == "up" else "unapply"
        with (
            self.database.session_limits(limits),
            self.database.watch_blockers(
                limits, self._unlimited_wait(step, limits, event)
            ) as blockers,
        ):
            try:
                self.database.execute(step.statements, in_transaction=False)
            except StatementFailed as failure:
                if self.database.lock_conflict(failure):
                    failure.explanation = [
                        f"{blockers.describe()}; not retried: a no-transaction file's "
                        "statements commit one by one."
                    ]
                _explain_statement_timeout(failure, limits)
                raise
        execution_ms = _ms_since(started) if direction == "up" else None
        try:
            with self._bookkeeping(), self.database.write_transaction():
                if execution_ms is not None:
                    self.recorder.mark_clean(version, execution_ms)
                else:
                    self.recorder.record_unapplied(version)
        except DatabaseError as exc:
            # Every statement ran; only clearing the failed mark did not.
            raise StatementFailed(None, exc, self.database, in_transaction=False) from exc
        return execution_ms


LOCK_ADVICE = (
    "Let that transaction finish (or end it) and run again, or allow longer waits: "
    "--statement-lock-timeout / --lock-retries, the settings "
    "SQLMIGRATIONS_STATEMENT_LOCK_TIMEOUT / SQLMIGRATIONS_LOCK_RETRIES, or the file's "
    "'-- sqlmigrate: lock-timeout=... lock-retries=...'."
)


def _explain_statement_timeout(failure: StatementFailed, limits: WaitLimits) -> None:
    if limits.statement_timeout and "statement timeout" in failure.message:
        failure.explanation = [
            f"The statement ran longer than the statement timeout of "
            f"{seconds(limits.statement_timeout)} (not retried). Raise it with "
            "--statement-timeout, SQLMIGRATIONS_STATEMENT_TIMEOUT or the file's "
            "'-- sqlmigrate: statement-timeout=...'; 0 disables it."
        ]


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
