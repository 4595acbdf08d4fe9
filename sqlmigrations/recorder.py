"""The history table: which migrations a database holds, in one small class.

Modelled on Django's MigrationRecorder. Every read is a single query, so status
stays cheap with thousands of applied migrations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.executor import MigrationExecutor
from django.db.models import QuerySet
from django.utils import timezone

from sqlmigrations.database import is_in_memory
from sqlmigrations.files import Migration
from sqlmigrations.foreign_history import refuse_foreign
from sqlmigrations.models import SchemaMigration

if TYPE_CHECKING:
    from sqlmigrations.vendors.base import HistoryChange

TABLE = SchemaMigration._meta.db_table
CREATE_ATTEMPTS = 5


class MigrationRecorder:
    def __init__(
        self,
        connection: BaseDatabaseWrapper,
        is_busy: Callable[[DatabaseError], bool] = lambda exc: False,
    ):
        """``is_busy`` tells a wait for another connection's lock that ran out (the
        vendor's ``is_busy``) from other errors."""
        self.connection = connection
        self.is_busy = is_busy
        self.alias = connection.alias
        self.schema: str | None = None  # PostgreSQL: the table's schema, once located
        self._own_table = False  # the table found is known to be this app's

    @property
    def objects(self) -> QuerySet[SchemaMigration]:
        queryset: QuerySet[SchemaMigration] = SchemaMigration.objects.using(self.alias)
        return queryset

    def database_exists(self) -> bool:
        """False for a SQLite file not created yet: reading must not create it."""
        if self.connection.vendor != "sqlite" or is_in_memory(self.connection):
            return True
        return Path(str(self.connection.settings_dict["NAME"])).exists()

    def has_table(self) -> bool:
        if not self.database_exists():
            return False
        with self.connection.cursor() as cursor:
            found = TABLE in self.connection.introspection.table_names(cursor)
        if found and not self._own_table:
            # Every command reads the history through here first: another runner's
            # table of the same name stops it with how to adopt it, not a failed query.
            refuse_foreign(self.connection)
            self._own_table = True
        return found

    def ensure_table(self) -> None:
        """Create schema_migrations by applying the app's own Django migration.

        Going through Django's migration executor records it in django_migrations,
        so a later ``manage.py migrate`` knows the table is already there.
        """
        for attempt in range(CREATE_ATTEMPTS):
            if self.has_table():
                return
            # A new executor each time: it must see what another runner did meanwhile.
            executor = MigrationExecutor(self.connection)
            try:
                executor.migrate(executor.loader.graph.leaf_nodes("sqlmigrations"))
                break
            except DatabaseError as exc:
                # SQLite has no lock around this: another runner may have created
                # django_migrations or schema_migrations between our check and
                # our CREATE. Look again rather than fail; but a wait for another
                # connection's lock already took the whole lock timeout.
                if attempt == CREATE_ATTEMPTS - 1 or self.is_busy(exc):
                    raise
                time.sleep(0.05 * (attempt + 1))
        if not self.has_table():
            # Recorded as applied in django_migrations but dropped since.
            with self.connection.schema_editor() as editor:
                editor.create_model(SchemaMigration)

    def locate(self) -> None:
        """PostgreSQL: note the schema the table is in, as the runner's search_path finds it.

        A migration may change search_path; the history rows of the one-message
        runner still go to this table, named with its schema. (The ORM's reads
        and writes run after the session is put back, so they find it too.)
        """
        self.schema = None
        if self.connection.vendor != "postgresql":
            return
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                "ON n.oid = c.relnamespace WHERE c.oid = pg_catalog.to_regclass(%s)",
                [TABLE],
            )
            row = cursor.fetchone()
        self.schema = row[0] if row else None

    def applied(self) -> dict[int, SchemaMigration]:
        if not self.has_table():
            return {}
        return {row.version: row for row in self.objects.order_by("version")}

    def is_applied(self, version: int) -> bool:
        found: bool = self.objects.filter(version=version).exists()
        return found

    def record(self, change: HistoryChange) -> None:
        """Write a migration's history change inside its transaction."""
        if change.applied:
            change.execution_ms = change.elapsed_ms()
            self.record_applied(change.migration, change.execution_ms)
        else:
            self.record_unapplied(change.migration.version)

    def record_sql(self, change: HistoryChange) -> str:
        """The same change as SQL text, for PostgreSQL's one-message batch."""
        if change.applied:
            return self.applied_sql(change.migration)
        return self.unapplied_sql(change.migration.version)

    def record_applied(
        self, migration: Migration, execution_ms: int, *, dirty: bool = False
    ) -> None:
        self.objects.create(
            version=migration.version,
            name=migration.label,
            checksum=migration.checksum,
            applied_at=timezone.now(),
            execution_ms=execution_ms,
            dirty=dirty,
        )

    def mark_dirty(self, version: int) -> None:
        self.objects.filter(version=version).update(dirty=True)

    def mark_clean(self, version: int, execution_ms: int) -> None:
        self.objects.filter(version=version).update(dirty=False, execution_ms=execution_ms)

    def update_checksum(self, version: int, checksum: str) -> None:
        self.objects.filter(version=version).update(checksum=checksum)

    def record_unapplied(self, version: int) -> None:
        self.objects.filter(version=version).delete()

    # The same rows as SQL text, for PostgreSQL's one-message batch (batch.py).

    def applied_sql(self, migration: Migration) -> str:
        """Insert the row as the server commits the migration: applied_at is when the
        row is written, execution_ms the time since the batch's transaction began,
        returned so that what is printed is what is stored."""
        return self._compose(
            "INSERT INTO {table} (version, name, checksum, applied_at, execution_ms, dirty) "
            "VALUES ({v}, {n}, {c}, clock_timestamp(), "
            "round(extract(epoch FROM clock_timestamp() - now()) * 1000)::integer, false) "
            "RETURNING execution_ms",
            v=migration.version,
            n=migration.label,
            c=migration.checksum,
        )

    def unapplied_sql(self, version: int) -> str:
        return self._compose("DELETE FROM {table} WHERE version = {v}", v=version)

    def _compose(self, template: str, **values: object) -> str:
        from sqlmigrations.vendors.pg_driver import sql_module

        sql = sql_module()
        literals = {key: sql.Literal(value) for key, value in values.items()}
        table = sql.Identifier(self.schema, TABLE) if self.schema else sql.Identifier(TABLE)
        composed = sql.SQL(template).format(table=table, **literals)
        return str(composed.as_string(self.connection.connection))
