from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from sqlmigrations.adopt import SOURCES, adopt
from sqlmigrations.errors import UsageError
from sqlmigrations.executor import Executor

from ._base import SqlMigrationsCommand


class Command(SqlMigrationsCommand):
    help = (
        "Adopt a database another runner migrated: record the versions it applied "
        "(golang-migrate, dbmate, the Node runner, Flyway, Django) in schema_migrations, "
        "with checksums of the current files, so that only newer files run. Another "
        "runner's schema_migrations is renamed and kept. Running it again changes nothing."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--from",
            dest="source",
            choices=SOURCES,
            default="schema_migrations",
            help="Whose history to read: another runner's schema_migrations (default; "
            "golang-migrate, dbmate or the Node runner, recognised by its columns), "
            "Flyway's flyway_schema_history, or Django's django_migrations (with --app).",
        )
        parser.add_argument(
            "--app",
            help="With --from django: the app whose migrations (NNNN_name) match the "
            "SQL files' versions.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print what would be recorded and renamed; change nothing.",
        )
        self.add_lock_timeout(parser)

    def run(self, **options: Any) -> None:
        if (options["source"] == "django") != bool(options["app"]):
            raise UsageError("--app goes with --from django, and --from django needs --app")
        executor = Executor(
            options["database"], progress=self.report, lock_timeout=options["lock_timeout"]
        )
        lines = adopt(executor, options["source"], app=options["app"], dry_run=options["dry_run"])
        for line in lines if self.verbosity >= 1 else ():
            self.stdout.write(line)
