from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from ._base import SqlMigrationsCommand, waited_for_sqlite_lock


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
        executor = self.make_executor(options)
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

    def interrupted_message(self, exc: KeyboardInterrupt) -> str:
        if self.waiting_for_lock or waited_for_sqlite_lock(exc):
            return super().interrupted_message(exc)
        # Each change is its own statement: some may be made, the rest are left to do.
        return (
            "interrupted while repairing; run sqlmigrate_repair --dry-run to see what "
            "is left to repair."
        )
