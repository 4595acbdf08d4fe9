from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from sqlmigrations.executor import Executor, Step

from ._base import SqlMigrationsCommand, version_number
from ._lint import lint_pending


class Command(SqlMigrationsCommand):
    help = "Apply pending SQL migrations in version order, each in its own transaction."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--target",
            type=version_number,
            metavar="VERSION",
            help="Apply pending migrations up to and including this version only.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print the plan and the SQL it would run; change nothing in the database.",
        )
        parser.add_argument(
            "--allow-out-of-order",
            action="store_true",
            help="Also apply pending migrations numbered below the newest applied one "
            "(after a branch merge); without it they stop the run.",
        )
        self.add_fake(parser, "Record the pending migrations as applied")
        parser.add_argument(
            "--backup",
            action="store_true",
            help="Back the database up first (pg_dump / SQLite backup API); a failed "
            "backup stops the run.",
        )
        self.add_backup_dir(parser)
        self.add_lock_timeout(parser)
        self.add_migration_waits(parser)
        parser.add_argument(
            "--strict",
            action="store_true",
            help="Refuse to run (exit code 2) while squawk finds anything in the pending "
            "files, or when it cannot run (default: SQLMIGRATIONS_LINT_ON_UP, 'warn': "
            "findings are printed as warnings).",
        )

    def run(self, **options: Any) -> None:
        executor = self.make_executor(options)
        if options["dry_run"]:
            plan = self.plan(executor, options)
            lint_pending(self, executor, lambda: plan, strict=options["strict"])
            self.print_plan(plan, "Apply", empty="No migrations to apply.")
            return
        if not options["fake"]:  # nothing of a faked file runs: nothing to lint
            plan_now = lambda: self.plan(executor, options)  # noqa: E731
            lint_pending(self, executor, plan_now, strict=options["strict"])
        applied = executor.up(
            options["target"],
            allow_out_of_order=options["allow_out_of_order"],
            fake=options["fake"],
            backup_dir=self.backup_dir(options, wanted=options["backup"]),
        )
        if self.verbosity >= 1:
            if applied:
                count = len(applied)
                verb = "Recorded (faked)" if options["fake"] else "Applied"
                self.stdout.write(
                    f"{verb} {count} migration{'s' if count != 1 else ''} "
                    f"to database '{executor.alias}'."
                )
            else:
                self.stdout.write("No migrations to apply.")

    @staticmethod
    def plan(executor: Executor, options: dict[str, Any]) -> list[Step]:
        return executor.plan_up(options["target"], allow_out_of_order=options["allow_out_of_order"])
