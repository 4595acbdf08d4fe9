"""Adopt a database another runner migrated: record what it applied in this app's
history, so that only newer files run from now on.

Its ``schema_migrations`` (same name as this app's) is renamed and kept, in the same
transaction that creates this app's table and fills it; Flyway's and Django's tables
are not in the way and are only read. Running it again changes nothing.
"""

from __future__ import annotations

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.recorder import MigrationRecorder as DjangoRecorder
from django.utils import timezone

from sqlmigrations import foreign_history as fh
from sqlmigrations.database import connect
from sqlmigrations.errors import UsageError
from sqlmigrations.executor import Executor
from sqlmigrations.files import Migration
from sqlmigrations.models import SchemaMigration

SOURCES = ("schema_migrations", fh.FLYWAY, fh.DJANGO)


def adopt(executor: Executor, source: str, *, app: str | None, dry_run: bool) -> list[str]:
    """Lines saying what was (or with ``dry_run`` would be) recorded and renamed."""
    files = {m.version: m for m in executor.migrations()}
    connection = executor.connection
    if not executor.recorder.database_exists():
        raise UsageError(
            f"database '{executor.alias}' does not exist yet, so it has no history to adopt"
        )
    connect(connection, executor.database.explain_connect_error)
    with executor._lock(), executor.database.bookkeeping(executor.lock_timeout):
        runner = _runner(executor, source)
        if runner is None:
            return [
                f"Nothing to adopt: {fh.TABLE} is already this app's history"
                + _kept(executor)
                + "."
            ]
        recorded = fh.read(connection, runner, app)
        versions = _versions(recorded, files)
        same_name = recorded.table == fh.TABLE
        known = {} if same_name else executor.recorder.applied()
        new = [v for v in versions if v not in known]
        name = fh.RUNNER_NAMES[runner]
        verb = "Would record" if dry_run else "Recorded"
        dry = " (dry run, nothing is changed)" if dry_run else ""
        where = f"({recorded.table}) on database '{executor.alias}'"
        lines = [f"Adopting {name}'s history {where}{dry}:"]
        lines += [f"  {verb} {files[v].label} as applied{_when(versions[v][0])}" for v in new]
        lines += [f"  Already recorded: {known[v].name}" for v in versions if v in known]
        renamed = f"{fh.TABLE}_{runner.replace('-', '_')}"
        if same_name:
            lines.append(
                f"  {'Would rename' if dry_run else 'Renamed'} {name}'s table {fh.TABLE} to "
                f"{renamed} (kept, no longer used)"
            )
        pending = sum(1 for v in files if v not in versions and v not in known)
        if pending:
            lines.append(
                f"{pending} migration(s) {name} did not apply are pending: sqlmigrate_up "
                "applies them."
            )
        if not new and not same_name:
            return [f"Nothing to adopt: every version {name} applied is recorded already."]
        if same_name and renamed in connection.introspection.table_names():
            raise UsageError(f"{renamed} exists already; rename or drop it, then adopt again")
        if dry_run:
            return lines
        if not same_name:
            executor.recorder.ensure_table()
        DjangoRecorder(connection).ensure_schema()  # Django's own table, before ours
        with transaction.atomic(using=connection.alias):
            if same_name:
                executor.database.rename_table(fh.TABLE, renamed)
                _create_table(connection)
            for version in new:
                _record(connection.alias, files[version], *versions[version])
    return lines


def _runner(executor: Executor, source: str) -> str | None:
    connection = executor.connection
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    if source != "schema_migrations":
        table = fh.OWN_TABLES[source]
        if table not in tables:
            raise UsageError(f"database '{executor.alias}' has no {table} table to adopt")
        return source
    if fh.TABLE not in tables:
        raise UsageError(
            f"database '{executor.alias}' has no {fh.TABLE} table to adopt (Flyway's and "
            "Django's are adopted with --from flyway / --from django)"
        )
    return fh.same_name_runner(connection)


def _versions(recorded: fh.Recorded, files: dict[int, Migration]) -> dict[int, tuple[object, int]]:
    """The applied versions, each with (applied_at or None, execution_ms); UsageError,
    with every reason, when the other history is dirty or names versions with no file."""
    problems = list(recorded.problems)
    missing = sorted(v for v in recorded.applied if v not in files)
    if missing:
        problems.append(
            f"{fh.RUNNER_NAMES[recorded.runner]}'s history names versions with no migration "
            f"file here: {', '.join(map(str, missing))} (import or restore their files first)"
        )
    if problems:
        raise UsageError(
            "cannot adopt; nothing was changed:\n" + "\n".join(f"  {p}" for p in problems)
        )
    versions: dict[int, tuple[object, int]] = dict(recorded.applied)
    if recorded.up_to is not None:
        for version in files:
            if version <= recorded.up_to:
                versions.setdefault(version, (None, 0))
    return dict(sorted(versions.items()))


def _create_table(connection: BaseDatabaseWrapper) -> None:
    """This app's table, in the adopting transaction: SQLite's schema editor cannot run
    inside one, so its CREATE TABLE is run directly, and the app's migration recorded."""
    editor = connection.schema_editor()
    sql, params = editor.table_sql(SchemaMigration)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    recorder = DjangoRecorder(connection)
    if ("sqlmigrations", "0001_initial") not in recorder.applied_migrations():
        recorder.record_applied("sqlmigrations", "0001_initial")


def _record(alias: str, migration: Migration, applied_at: object, execution_ms: int) -> None:
    SchemaMigration.objects.using(alias).create(
        version=migration.version,
        name=migration.label,
        checksum=migration.checksum,
        applied_at=applied_at or timezone.now(),
        execution_ms=execution_ms,
    )


def _when(applied_at: object) -> str:
    return f" (applied {applied_at:%Y-%m-%d %H:%M:%S %Z})" if applied_at else ""


def _kept(executor: Executor) -> str:
    tables = executor.connection.introspection.table_names()
    kept = [t for t in tables if t.startswith(f"{fh.TABLE}_")]
    return f" (the other runner's is kept as {', '.join(kept)})" if kept else ""
