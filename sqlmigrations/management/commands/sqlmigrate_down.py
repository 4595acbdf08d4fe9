from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from sqlmigrations.database import describe
from sqlmigrations.errors import UsageError
from sqlmigrations.executor import Executor, Step

from ._base import Interrupted, SqlMigrationsCommand, positive_int, version_number


class Command(SqlMigrationsCommand):
    help = (
        "Roll back the newest applied SQL migration (or several) by running its "
        ".down.sql file and deleting its history row, in one transaction."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        which = parser.add_mutually_exclusive_group()
        which.add_argument(
            "--steps",
            type=positive_int,
            metavar="N",
            help="Roll back the newest N applied migrations, newest first (default 1).",
        )
        which.add_argument(
            "--target",
            type=version_number,
            metavar="VERSION",
            help="Roll back every applied migration above VERSION (0 rolls back all).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print the plan and the SQL it would run; change nothing in the database.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation (needed when there is no terminal).",
        )
        self.add_fake(parser, "Remove the migrations' rows")
        backup = parser.add_mutually_exclusive_group()
        backup.add_argument(
            "--backup",
            action="store_true",
            default=True,
            help="Write a backup first (the default: rolling back destroys data; a failed "
            "backup stops the run).",
        )
        backup.add_argument(
            "--no-backup",
            action="store_false",
            dest="backup",
            help="Do not write a backup first.",
        )
        self.add_backup_dir(parser)
        self.add_lock_timeout(parser)
        self.add_migration_waits(parser)

    def run(self, **options: Any) -> None:
        executor = self.make_executor(options)
        if options["dry_run"]:
            plan = executor.plan_down(options["steps"], options["target"])
            self.print_plan(plan, "Unapply", empty="No migrations to roll back.")
            return
        confirm = (lambda plan: self.confirm(plan, executor)) if options["interactive"] else None
        reverted = executor.down(
            options["steps"],
            options["target"],
            confirm=confirm,
            fake=options["fake"],
            # --fake runs no SQL, so it destroys nothing worth a backup.
            backup_dir=self.backup_dir(options, wanted=options["backup"] and not options["fake"]),
        )
        if self.verbosity >= 1:
            count = len(reverted)
            if not count:
                self.stdout.write("No migrations to roll back.")
                return
            verb = "Removed (faked) the records of" if options["fake"] else "Rolled back"
            self.stdout.write(
                f"{verb} {count} migration{'s' if count != 1 else ''} "
                f"on database '{executor.alias}'."
            )

    def confirm(self, plan: list[Step], executor: Executor) -> None:
        labels = ", ".join(str(step.migration) for step in plan)
        if not sys.stdin.isatty():
            raise UsageError(
                f"refusing to roll back {labels} without confirmation: there is no terminal "
                "to ask on; pass --noinput to roll back anyway"
            )
        self.stdout.write(
            f"This will roll back {labels} on database '{executor.alias}' "
            f"({describe(executor.connection)}) and may destroy data."
        )
        try:
            answer = input("Type 'yes' to continue, or anything else to cancel: ")
        except EOFError:  # Ctrl-D: no answer is not a yes
            self.stdout.write("")  # the error starts its own line, not after the prompt
            raise UsageError(
                "no answer at the confirmation prompt (end of input): rollback cancelled; "
                "nothing was changed."
            ) from None
        except KeyboardInterrupt:
            self.stdout.write("")
            raise Interrupted(
                "interrupted at the confirmation prompt; nothing was changed."
            ) from None
        if answer.strip().lower() != "yes":
            raise UsageError("rollback cancelled; nothing was changed")
