"""Plan which migrations to run, in which order, and run them, recording each step.

Everything a command does goes through here, so deploy scripts and the test
runner hook take the same path as a person at a terminal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from django.db import DatabaseError

from sqlmigrations import conf
from sqlmigrations.backup import write_backup
from sqlmigrations.batch import BatchFailed, can_batch, run_batch
from sqlmigrations.database import connect, get_connection
from sqlmigrations.errors import (
    FailedMigrationRecorded,
    HistoryMismatch,
    InvalidMigrationFiles,
    MigrationFailed,
    MigrationInterrupted,
    UsageError,
    database_message,
)
from sqlmigrations.files import Migration, SqlFile, load_migrations
from sqlmigrations.lock import migration_lock, write_transaction
from sqlmigrations.models import SchemaMigration
from sqlmigrations.recorder import MigrationRecorder
from sqlmigrations.signals import migration_applied, migration_reverted
from sqlmigrations.sql import SqlSyntaxError, Statement, split_statements, transaction_control

logger = logging.getLogger("sqlmigrations")


@dataclass(frozen=True)
class Progress:
    """What the executor reports while it works; commands turn it into output."""

    # apply_start, apply_success, unapply_start, unapply_success, skip, failure, wait, backup
    event: str
    migration: Migration | None = None
    elapsed_ms: int | None = None
    message: str = ""


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class MigrationState:
    version: int
    label: str
    migration: Migration | None
    record: SchemaMigration | None
    problems: tuple[str, ...] = field(default=())
    skipped: bool = False  # listed in SQLMIGRATIONS_SKIP_VERSIONS for this database
    out_of_order: bool = False  # pending, but numbered below the newest applied version

    @property
    def applied(self) -> bool:
        return self.record is not None

    @property
    def pending(self) -> bool:
        return self.record is None and not self.skipped


def pending_versions(states: list[MigrationState]) -> list[int]:
    return [s.version for s in states if s.pending]


def problem_lines(states: list[MigrationState]) -> list[str]:
    """One line per problem of an applied migration: what status, --check and health report."""
    return [f"{s.label}: {problem}" for s in states for problem in s.problems]


@dataclass(frozen=True)
class Step:
    migration: Migration
    sql_file: SqlFile
    statements: list[Statement]


class Executor:
    def __init__(
        self,
        database: str = "default",
        *,
        dirs: Sequence[Path] | None = None,
        progress: ProgressCallback | None = None,
        lock_timeout: float | None = None,
    ):
        self.connection = get_connection(database)
        self.alias = database
        self.vendor = self.connection.vendor
        self.dirs = list(dirs) if dirs is not None else conf.migration_dirs(database)
        self._report = progress or (lambda _: None)
        self.lock_timeout = conf.lock_timeout() if lock_timeout is None else lock_timeout
        self.recorder = MigrationRecorder(self.connection)
        self.skipped = conf.skipped_versions(database)
        self._migrations: list[Migration] | None = None

    # Reading -----------------------------------------------------------------

    def migrations(self) -> list[Migration]:
        if self._migrations is None:
            self._migrations = load_migrations(self.dirs, self.vendor)
        return self._migrations

    def _applied(self) -> dict[int, SchemaMigration]:
        if not self.recorder.database_exists():
            return {}
        connect(self.connection)
        return self.recorder.applied()

    def status(self) -> list[MigrationState]:
        """Every version known from the files or the history, in order."""
        files = {m.version: m for m in self.migrations()}
        applied = self._applied()
        newest = max(applied, default=0)
        states = []
        for version in sorted(files.keys() | applied.keys()):
            migration, record = files.get(version), applied.get(version)
            label = migration.label if migration else record.name  # type: ignore[union-attr]
            states.append(
                MigrationState(
                    version=version,
                    label=label,
                    migration=migration,
                    record=record,
                    problems=tuple(_problems(migration, record)),
                    skipped=version in self.skipped,
                    out_of_order=record is None
                    and version < newest
                    and version not in self.skipped,
                )
            )
        return states

    def _check_history(self, applied: dict[int, SchemaMigration]) -> None:
        files = {m.version: m for m in self.migrations()}
        problems = [
            f"{record.name}: {problem}"
            for version, record in sorted(applied.items())
            for problem in _drift(files.get(version), record)
        ]
        if problems:
            raise HistoryMismatch(problems)

    def _check_failed(self, applied: dict[int, SchemaMigration], plan: list[Step]) -> None:
        """Refuse to run while a no-transaction migration is recorded as failed.

        Only rolling back that very migration (its down file) may proceed.
        """
        failed = [record for _, record in sorted(applied.items()) if record.dirty]
        if not failed:
            return
        rolling_back_it = (
            len(failed) == 1
            and plan
            and plan[0].sql_file is plan[0].migration.down
            and plan[0].migration.version == failed[0].version
        )
        if not rolling_back_it:
            raise FailedMigrationRecorded([record.name for record in failed])

    # Planning ----------------------------------------------------------------

    def _plan_up(
        self, applied: dict[int, SchemaMigration], target: int | None, allow_out_of_order: bool
    ) -> list[Step]:
        migrations = self.migrations()
        if target is not None and target not in {m.version for m in migrations}:
            raise UsageError(f"--target {target} is not a migration version{_known(migrations)}")
        plan = [
            m
            for m in migrations
            if m.version not in applied
            and m.version not in self.skipped
            and (target is None or m.version <= target)
        ]
        newest = max(applied, default=0)
        behind = [m.label for m in plan if m.version < newest]
        if behind and not allow_out_of_order:
            raise UsageError(
                f"pending migrations are numbered below the newest applied one "
                f"({applied[newest].name}): {', '.join(behind)}. This usually follows a "
                "branch merge. Apply them anyway with --allow-out-of-order, or renumber "
                "them above it if they have not been applied anywhere yet."
            )
        return self._prepare(plan, "up")

    def _plan_down(
        self, applied: dict[int, SchemaMigration], steps: int | None, target: int | None
    ) -> list[Step]:
        files = {m.version: m for m in self.migrations()}
        newest_first = sorted(applied, reverse=True)
        if target is not None:
            if target != 0 and target not in files and target not in applied:
                raise UsageError(
                    f"--target {target} is not a migration version{_known(self.migrations())}"
                    " (use --target 0 to roll back everything)"
                )
            versions = [v for v in newest_first if v > target]
        elif steps is not None:
            if steps > len(newest_first):
                raise UsageError(
                    f"--steps {steps} is more than the {len(newest_first)} applied "
                    f"migration{'s' if len(newest_first) != 1 else ''}"
                )
            versions = newest_first[:steps]
        else:
            versions = newest_first[:1]
        return self._prepare([files[v] for v in versions], "down")

    def _prepare(self, plan: list[Migration], direction: str) -> list[Step]:
        """Split every file of the plan up front: a syntax error stops the run before it starts."""
        steps, problems = [], []
        for migration in plan:
            sql_file = migration.up if direction == "up" else migration.down
            try:
                statements = split_statements(sql_file.text, self.vendor)
            except SqlSyntaxError as exc:
                problems.append(f"{sql_file.path.name}:{exc.line}: {exc.message}")
                continue
            for statement in statements if sql_file.transactional else []:
                if command := transaction_control(statement, self.vendor):
                    problems.append(
                        f"{sql_file.path.name}:{statement.line}: {command} would begin or end "
                        "a transaction inside the migration's own. Remove it (each migration "
                        "already runs in one transaction), or put "
                        "'-- sqlmigrate: no-transaction' on the file's first line to manage "
                        "transactions yourself."
                    )
            steps.append(Step(migration, sql_file, statements))
        if problems:
            raise InvalidMigrationFiles(problems)
        return steps

    def _checked_plan_up(
        self, applied: dict[int, SchemaMigration], target: int | None, allow_out_of_order: bool
    ) -> list[Step]:
        self._check_history(applied)
        self._check_failed(applied, [])
        return self._plan_up(applied, target, allow_out_of_order)

    def _checked_plan_down(
        self, applied: dict[int, SchemaMigration], steps: int | None, target: int | None
    ) -> list[Step]:
        self._check_history(applied)
        plan = self._plan_down(applied, steps, target)
        self._check_failed(applied, plan)
        return plan

    def plan_up(self, target: int | None = None, *, allow_out_of_order: bool = False) -> list[Step]:
        """What ``up`` would run, without writing anything (not even the history table)."""
        self.migrations()
        return self._checked_plan_up(self._applied(), target, allow_out_of_order)

    def plan_down(self, steps: int | None = None, target: int | None = None) -> list[Step]:
        self.migrations()
        return self._checked_plan_down(self._applied(), steps, target)

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
        self.migrations()  # invalid files fail before connecting
        connect(self.connection)
        with self._lock():
            self.recorder.ensure_table()
            plan = self._checked_plan_up(self.recorder.applied(), target, allow_out_of_order)
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
        self.migrations()
        if not self.recorder.database_exists():
            self._plan_down({}, steps, target)  # still reject impossible options
            return []  # and do not create a SQLite file just to find it empty
        connect(self.connection)
        with self._lock():
            plan = self._checked_plan_down(self.recorder.applied(), steps, target)
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
        connect(self.connection)
        with self._lock():
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
        elif progress.event == "skip":
            logger.info("Skipped %s on database '%s': %s", label, self.alias, progress.message)
        elif progress.event == "backup":
            logger.info("Backup of database '%s' written to %s", self.alias, progress.message)
        elif progress.event == "wait":
            logger.info("%s", progress.message)

    def _backup(self, plan: list[Step], directory: Path | None, reason: str) -> None:
        if plan and directory is not None:
            path = write_backup(self.connection, directory, reason)
            self.progress(Progress("backup", message=str(path)))

    def _lock(self) -> AbstractContextManager[None]:
        return migration_lock(
            self.connection,
            self.lock_timeout,
            on_wait=lambda message: self.progress(Progress("wait", message=message)),
        )

    def _run(self, plan: list[Step], direction: str, *, fake: bool = False) -> list[Migration]:
        done: list[Migration] = []
        verb = "Applied" if direction == "up" else "Rolled back"
        for index, step in enumerate(plan):
            event = "apply" if direction == "up" else "unapply"
            self.progress(Progress(f"{event}_start", step.migration))
            started = time.perf_counter()
            try:
                ran = self._run_step(step, direction, started, fake)
            except KeyboardInterrupt:
                self.progress(Progress("failure", step.migration))
                raise MigrationInterrupted(
                    current=step.migration.label,
                    done=[m.label for m in done],
                    verb=verb,
                ) from None
            except _StatementFailed as failure:
                self.progress(Progress("failure", step.migration))
                name = step.sql_file.path.name
                raise MigrationFailed(
                    location=name if failure.line is None else f"{name}:{failure.line}",
                    message=failure.message,
                    code=failure.code,
                    done=[m.label for m in done],
                    not_done=[s.migration.label for s in plan[index:]],
                    verb=verb,
                    outside_transaction=None if failure.in_transaction else step.migration.label,
                    outcome_unknown=step.migration.label if failure.outcome_unknown else None,
                ) from failure.__cause__
            if not ran:
                self.progress(Progress("skip", step.migration, message="done by another runner"))
                continue
            elapsed = _ms_since(started)
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

    def _run_step(self, step: Step, direction: str, started: float, fake: bool) -> bool:
        """One migration and its history row, in one transaction."""
        if not fake and not step.sql_file.transactional:
            return self._run_step_outside_transaction(step, direction, started)
        if can_batch(self.connection):
            self._run_batch(step, direction, fake)
            return True
        with write_transaction(self.connection):
            if self.vendor == "sqlite":
                # SQLite has no session lock: re-check under the write lock, since
                # another runner may have done this step after we planned it.
                already_applied = self.recorder.is_applied(step.migration.version)
                if already_applied == (direction == "up"):
                    return False
            if not fake:
                self._execute(step.statements, in_transaction=True)
            if direction == "up":
                self.recorder.record_applied(step.migration, _ms_since(started))
            else:
                self.recorder.record_unapplied(step.migration.version)
        return True

    def _run_batch(self, step: Step, direction: str, fake: bool) -> None:
        """PostgreSQL: the step and its history row in one round trip (see batch.py)."""
        statements = [] if fake else step.statements
        history = (
            self.recorder.applied_sql(step.migration)
            if direction == "up"
            else self.recorder.unapplied_sql(step.migration.version)
        )
        try:
            run_batch(self.connection, [*(s.sql for s in statements), history])
        except BatchFailed as failed:
            # Past the file's statements: its history row, or COMMIT (a deferred
            # constraint), which has no line in the file.
            statement = statements[failed.index] if failed.index < len(statements) else None
            raise _StatementFailed(
                statement, failed.error, self.connection, sent_at=failed.offset
            ) from failed.error
        except DatabaseError as exc:
            # The exchange itself broke (the connection was lost): the server may
            # have committed the whole message, or none of it.
            raise _StatementFailed(None, exc, self.connection, outcome_unknown=True) from exc

    def _execute(self, statements: list[Statement], *, in_transaction: bool) -> None:
        with self.connection.cursor() as cursor:
            for statement in statements:
                try:
                    cursor.execute(statement.sql)
                except DatabaseError as exc:
                    raise _StatementFailed(
                        statement, exc, self.connection, in_transaction=in_transaction
                    ) from exc

    def _run_step_outside_transaction(self, step: Step, direction: str, started: float) -> bool:
        """A ``-- sqlmigrate: no-transaction`` file: each statement commits on its own.

        A dirty history row is written first and cleared last, so a failure or a
        kill midway leaves a record that stops every later run until a person
        decides what the database holds.
        """
        version = step.migration.version
        with write_transaction(self.connection):
            # Claimed under the write lock (SQLite) or the advisory lock (PostgreSQL).
            if self.recorder.is_applied(version) == (direction == "up"):
                return False
            if direction == "up":
                self.recorder.record_applied(step.migration, 0, dirty=True)
            else:
                self.recorder.mark_dirty(version)
        self._execute(step.statements, in_transaction=False)
        with write_transaction(self.connection):
            if direction == "up":
                self.recorder.mark_clean(version, _ms_since(started))
            else:
                self.recorder.record_unapplied(version)
        return True


class _StatementFailed(Exception):
    """Carries a failing statement's position and the driver's error out of the transaction."""

    def __init__(  # type: ignore[no-untyped-def]
        self,
        statement: Statement | None,  # None: the failure has no line in the file
        exc: Exception,
        connection,
        *,
        in_transaction: bool = True,
        sent_at: int = 0,  # where the statement starts in the query text sent
        outcome_unknown: bool = False,
    ):
        self.in_transaction = in_transaction
        self.outcome_unknown = outcome_unknown
        reported = database_message(
            exc.__cause__ or exc, connection.settings_dict, in_transaction=in_transaction
        )
        self.code = reported.code
        self.line = statement.line if statement is not None else None
        if statement is not None and reported.position:
            offset = reported.position - 1 - sent_at
            self.line = statement.line + statement.sql.count("\n", 0, offset)
        self.message = reported.lines()
        super().__init__(self.message)


def _drift(migration: Migration | None, record: SchemaMigration | None) -> list[str]:
    if record is None:
        return []
    if migration is None:
        return ["applied, but its files are missing"]
    if migration.checksum != record.checksum:
        return ["applied, but its up file has changed since (checksum differs)"]
    return []


def _problems(migration: Migration | None, record: SchemaMigration | None) -> list[str]:
    failed = ["failed midway outside a transaction, may be partly applied (see sqlmigrate_repair)"]
    return _drift(migration, record) + (failed if record is not None and record.dirty else [])


def _known(migrations: list[Migration]) -> str:
    if not migrations:
        return " (no migration files found)"
    return f" (the files hold versions {migrations[0].version} to {migrations[-1].version})"


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
