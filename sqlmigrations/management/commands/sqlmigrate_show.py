"""Print one migration's SQL as the runner would send it, like Django's sqlmigrate."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from sqlmigrations.errors import UsageError
from sqlmigrations.executor import Executor
from sqlmigrations.files import SqlFile
from sqlmigrations.sql import Statement

from ._base import SqlMigrationsCommand, version_number


class Command(SqlMigrationsCommand):
    help = (
        "Print the SQL of one migration (its up file, or its down file with --down) for "
        "this database, split into statements as the runner would run them. Reads the "
        "files only: applied or not, nothing is run and the database is not opened."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "version",
            type=version_number,
            help="The migration's version (the number its files begin with, e.g. 12).",
        )
        parser.add_argument(
            "--down",
            action="store_true",
            help="Show the down file (what sqlmigrate_down would run) instead of the up file.",
        )

    def run(self, **options: Any) -> None:
        executor = Executor(options["database"])
        migrations = executor.migrations()  # the whole set must be valid, as for a run
        version = options["version"]
        migration = next((m for m in migrations if m.version == version), None)
        if migration is None:
            known = (
                f"the files hold versions {migrations[0].version} to {migrations[-1].version}"
                if migrations
                else "no migration files were found"
            )
            raise UsageError(f"no migration has version {version} ({known})")
        sql_file = migration.down if options["down"] else migration.up
        statements = executor.statements(sql_file)
        self.print_sql(sql_file, statements, executor.vendor)

    def print_sql(self, sql_file: SqlFile, statements: list[Statement], vendor: str) -> None:
        # The SQL is the answer the command was asked for: printed at every verbosity.
        label = self.style.MIGRATE_LABEL
        name = sql_file.path.name
        if self.verbosity >= 2:
            self.stdout.write(label(f"-- {sql_file.path} (for {vendor})"))
        if sql_file.transactional:
            self.stdout.write(label(f"-- {name}: one transaction, with its history row"))
            self.stdout.write("BEGIN;")
        else:
            self.stdout.write(
                label(f"-- {name}: no-transaction, each statement commits on its own")
            )
        for statement in statements:
            self.stdout.write(label(f"-- {name}:{statement.line}"))
            text = statement.sql.strip()
            self.stdout.write(text if text.endswith(";") else f"{text};")
        if sql_file.transactional:
            self.stdout.write("COMMIT;")

    def interrupted_message(self, exc: KeyboardInterrupt) -> str:
        return "interrupted; sqlmigrate_show only reads files, nothing was changed."
