"""Plan what to run, in which order, from the files and the history; run nothing.

Everything here works on values (files, history rows, the vendor's splitter), so
a plan is checked whole, and every problem reported at once, before the
executor touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmigrations.errors import (
    FailedMigrationRecorded,
    HistoryMismatch,
    InvalidMigrationFiles,
    UsageError,
)
from sqlmigrations.files import Migration, SqlFile
from sqlmigrations.models import SchemaMigration
from sqlmigrations.sql import SqlSyntaxError, Statement
from sqlmigrations.vendors.base import Vendor

Applied = dict[int, SchemaMigration]


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
        """In the history, completed or not (see ``failed``): its version is taken."""
        return self.record is not None

    @property
    def failed(self) -> bool:
        """A no-transaction migration recorded as stopped midway: not applied."""
        return self.record is not None and self.record.dirty

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


class Planner:
    def __init__(self, migrations: list[Migration], vendor: Vendor, skipped: frozenset[int]):
        self.migrations = migrations
        self.vendor = vendor
        self.skipped = skipped
        self._statements: dict[int, list[Statement]] = {}  # by id() of the SqlFile

    # Files -------------------------------------------------------------------

    def check_files(self, direction: str) -> None:
        """Split every file of one direction, so a syntax error or a refused statement
        anywhere stops the run before it connects; the splits are kept for the run."""
        problems = []
        for migration in self.migrations:
            sql_file = _file(migration, direction)
            statements, found = self.check_file(sql_file)
            problems += found
            if statements is not None:
                self._statements[id(sql_file)] = statements
        if problems:
            raise InvalidMigrationFiles(problems)

    def check_file(self, sql_file: SqlFile) -> tuple[list[Statement] | None, list[str]]:
        """One file split by the vendor (None if it cannot be), and its problems: its
        header's, a syntax error, statements the runner refuses."""
        name = sql_file.path.name
        problems = [f"{name}:{line}: {text}" for line, text in sql_file.directives.problems]
        try:
            statements = self.vendor.split(sql_file.text)
        except SqlSyntaxError as exc:
            return None, [*problems, f"{name}:{exc.line}: {exc.message}"]
        transactional = sql_file.transactional
        for statement in statements:
            if problem := self.vendor.statement_problem(statement, transactional):
                problems.append(f"{name}:{statement.line}: {problem}")
        return statements, problems

    def step(self, migration: Migration, direction: str) -> Step:
        """One migration's file of ``direction``, split, whatever the history says
        (sqlmigrate_verify applies and reverts each migration itself)."""
        return self._steps([migration], direction)[0]

    def _steps(self, plan: list[Migration], direction: str) -> list[Step]:
        steps = []
        for migration in plan:
            sql_file = _file(migration, direction)
            statements = self._statements.get(id(sql_file))
            if statements is None:  # not checked up front (a caller skipped check_files)
                self.check_files(direction)
                statements = self._statements[id(sql_file)]
            steps.append(Step(migration, sql_file, statements))
        return steps

    # History -----------------------------------------------------------------

    def status(self, applied: Applied) -> list[MigrationState]:
        """Every version known from the files or the history, in order."""
        files = {m.version: m for m in self.migrations}
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

    def _check_history(self, applied: Applied) -> None:
        files = {m.version: m for m in self.migrations}
        problems = [
            f"{record.name}: {problem}"
            for version, record in sorted(applied.items())
            for problem in _drift(files.get(version), record)
        ]
        if problems:
            raise HistoryMismatch(problems)

    def _check_failed(self, applied: Applied, plan: list[Step]) -> None:
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

    # Plans -------------------------------------------------------------------

    def plan_up(self, applied: Applied, target: int | None, allow_out_of_order: bool) -> list[Step]:
        self._check_history(applied)
        self._check_failed(applied, [])
        migrations = self.migrations
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
        return self._steps(plan, "up")

    def plan_down(self, applied: Applied, steps: int | None, target: int | None) -> list[Step]:
        self._check_history(applied)
        files = {m.version: m for m in self.migrations}
        newest_first = sorted(applied, reverse=True)
        if target is not None:
            if target != 0 and target not in files and target not in applied:
                raise UsageError(
                    f"--target {target} is not a migration version{_known(self.migrations)}"
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
        plan = self._steps([files[v] for v in versions], "down")
        self._check_failed(applied, plan)
        return plan


def _file(migration: Migration, direction: str) -> SqlFile:
    return migration.up if direction == "up" else migration.down


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
