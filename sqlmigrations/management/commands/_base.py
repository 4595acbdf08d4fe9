"""What the three commands share: --database, clean errors and progress output."""

from __future__ import annotations

import traceback
from argparse import ArgumentParser, ArgumentTypeError
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DjangoDatabaseError
from django.db import connections

from sqlmigrations import conf
from sqlmigrations.database import describe, one_line
from sqlmigrations.errors import SqlMigrationsError, mask_secrets
from sqlmigrations.executor import Executor, Progress, Step


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ArgumentTypeError(f"'{value}' is not a whole number") from None
    if number < 1:
        raise ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def version_number(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ArgumentTypeError(f"'{value}' is not a migration version number") from None
    if number < 0:
        raise ArgumentTypeError(f"must be 0 or more, not {number}")
    return number


def seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ArgumentTypeError(f"'{value}' is not a number of seconds") from None
    if number < 0:
        raise ArgumentTypeError("must be 0 or more")
    return number


class SqlMigrationsCommand(BaseCommand):
    # Like Django's migrate: system checks must not stand between a deploy and its schema.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--database",
            default="default",
            help="Database alias to work on. Defaults to the 'default' database.",
        )

    def add_fake(self, parser: ArgumentParser, what: str) -> None:
        parser.add_argument(
            "--fake",
            action="store_true",
            help=f"{what} in schema_migrations without running any SQL "
            "(to adopt a database whose schema was made by other means).",
        )

    def add_backup_dir(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--backup-dir",
            type=Path,
            metavar="DIR",
            help="Where backups go (default: SQLMIGRATIONS_BACKUP_DIR, 'backups').",
        )

    @staticmethod
    def backup_dir(options: dict[str, Any], *, wanted: bool) -> Path | None:
        return (options["backup_dir"] or conf.backup_dir()) if wanted else None

    def make_executor(self, options: dict[str, Any]) -> Executor:
        executor = Executor(
            options["database"], progress=self.report, lock_timeout=options["lock_timeout"]
        )
        if self.verbosity >= 2:
            self.stdout.write(f"Database: {describe(executor.connection)}")
        return executor

    def add_lock_timeout(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--lock-timeout",
            type=seconds,
            default=None,
            metavar="SECONDS",
            help="How long to wait for another runner to finish before giving up "
            "(default: SQLMIGRATIONS_LOCK_TIMEOUT, 60).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        alias = options["database"]
        try:
            self.run(**options)
        except SqlMigrationsError as exc:
            self._show_traceback()
            raise CommandError(self._mask(str(exc), alias), returncode=exc.exit_code) from exc
        except DjangoDatabaseError as exc:
            self._show_traceback()
            raise CommandError(
                self._mask(f"database error: {one_line(str(exc))}", alias), returncode=1
            ) from exc

    def run(self, **options: Any) -> None:
        raise NotImplementedError

    def _mask(self, text: str, alias: str) -> str:
        settings_dict = connections.settings.get(alias, {})
        return mask_secrets(text, settings_dict)

    def _show_traceback(self) -> None:
        if self.verbosity >= 3:
            self.stderr.write(traceback.format_exc())

    def report(self, progress: Progress) -> None:
        """Print executor progress the way Django's migrate does."""
        if self.verbosity < 1:
            return
        event, migration = progress.event, progress.migration
        if event == "wait":
            self.stdout.write(progress.message)
        elif event == "backup":
            self.stdout.write(f"Backup written to {progress.message}")
        elif event in ("apply_start", "unapply_start"):
            word = "Applying" if event == "apply_start" else "Unapplying"
            self.stdout.write(f"  {word} {migration}...", ending="")
            self.stdout.flush()
        elif event in ("apply_success", "unapply_success"):
            if progress.message == "faked":
                self.stdout.write(self.style.SUCCESS(" FAKED"))
            else:
                self.stdout.write(self.style.SUCCESS(f" OK ({progress.elapsed_ms} ms)"))
        elif event == "skip":
            self.stdout.write(self.style.WARNING(f" skipped ({progress.message})"))
        elif event == "failure":
            self.stdout.write(self.style.ERROR(" FAILED"))

    def print_plan(self, plan: list[Step], verb: str, *, empty: str) -> None:
        """The --dry-run output: the plan, then each file's SQL as it would run."""
        if not plan:
            self.stdout.write(empty)
            return
        self.stdout.write(
            self.style.MIGRATE_HEADING("Planned operations (dry run, nothing is changed):")
        )
        for step in plan:
            self.stdout.write(f"  {verb} {step.migration}")
        if self.verbosity >= 1:
            for step in plan:
                self.stdout.write("")
                self.stdout.write(self.style.MIGRATE_LABEL(f"-- {step.sql_file.path.name}"))
                self.stdout.write(step.sql_file.text.rstrip("\n"))
