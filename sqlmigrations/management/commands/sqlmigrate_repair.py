from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from sqlmigrations.executor import Executor

from ._base import SqlMigrationsCommand


class Command(SqlMigrationsCommand):
    help = (
        "Accept the current migration files as what was applied: store the new checksum "
        "of each changed file, forget migrations whose files are gone, and clear failed "
        "no-transaction records so they can run again."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print what would be repaired; change nothing.",
        )
        self.add_lock_timeout(parser)

    def run(self, **options: Any) -> None:
        executor = Executor(options["database"], lock_timeout=options["lock_timeout"])
        changes = executor.repair(dry_run=options["dry_run"])
        if self.verbosity < 1:
            return
        if not changes:
            self.stdout.write("Nothing to repair: the history matches the files.")
            return
        if options["dry_run"]:
            self.stdout.write(
                self.style.MIGRATE_HEADING("Would repair (dry run, nothing is changed):")
            )
        for change in changes:
            self.stdout.write(f"  {change}")
