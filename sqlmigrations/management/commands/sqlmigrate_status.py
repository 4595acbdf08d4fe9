from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from django.utils import timezone

from sqlmigrations.database import describe
from sqlmigrations.executor import Executor, MigrationState, pending_versions, problem_lines

from ._base import SqlMigrationsCommand


class Command(SqlMigrationsCommand):
    help = "Show every SQL migration: applied (with when), pending, and any problems."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print the status as JSON, for scripts (at every verbosity).",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Exit with code 1 when anything is pending or an applied migration has "
            "a problem, so a deploy pipeline can gate on it.",
        )

    def run(self, **options: Any) -> None:
        executor = Executor(options["database"])
        states = executor.status()
        if options["json"]:
            self.stdout.write(json.dumps(self.as_json(executor, states), indent=2))
        elif self.verbosity >= 1:
            self.print_table(executor, states)
        if options["check"]:
            pending = len(pending_versions(states))
            problems = sum(1 for s in states if s.problems)
            if pending or problems:
                raise CommandError(
                    f"check failed: {pending} pending, {problems} with problems", returncode=1
                )

    def interrupted_message(self, exc: KeyboardInterrupt) -> str:
        return "interrupted; status only reads, nothing was changed."

    def print_table(self, executor: Executor, states: list[MigrationState]) -> None:
        # The database it read is the table's heading, at every verbosity that prints it.
        self.stdout.write(self.style.MIGRATE_HEADING(f"Database: {describe(executor.connection)}"))
        if not states:
            self.stdout.write("  (no migrations)")
        width = max((len(s.label) for s in states), default=0)
        files = [shown_path(s.migration.up.path) if s.migration else "" for s in states]
        file_width = max(map(len, files), default=0)
        for state, file in zip(states, files, strict=True):
            label = state.label.ljust(width)
            if self.verbosity >= 2:
                label += "  " + (file or "(no files)").ljust(file_width)
            self.stdout.write(self.line(state, label))
        applied = sum(1 for s in states if s.applied and not s.failed)
        pending = len(pending_versions(states))
        problems = sum(1 for s in states if s.problems)
        summary = f"{applied} applied, {pending} pending, {problems} with problems."
        if failed := sum(1 for s in states if s.failed):
            summary = summary[:-1] + f" ({failed} failed)."
        if skipped := sum(1 for s in states if s.skipped and not s.applied):
            summary = summary[:-1] + f", {skipped} skipped by settings."
        self.stdout.write(self.style.ERROR(summary) if problems else summary)

    def line(self, state: MigrationState, label: str) -> str:
        if state.problems:
            return self.style.ERROR(f" [!] {label}  {'; '.join(state.problems)}")
        if state.record is not None:
            when = (
                timezone.localtime(state.record.applied_at)
                if timezone.is_aware(state.record.applied_at)
                else state.record.applied_at
            )
            detail = f"applied {when:%Y-%m-%d %H:%M:%S %Z}".rstrip()
            return f" [X] {label}  {detail}"
        if state.skipped:
            return f" [-] {label}  skipped (SQLMIGRATIONS_SKIP_VERSIONS)"
        if state.out_of_order:
            return self.style.WARNING(
                f" [ ] {label}  pending, out of order (below the newest applied)"
            )
        return f" [ ] {label}  pending"

    def as_json(self, executor: Executor, states: list[MigrationState]) -> dict[str, Any]:
        return {
            "database": executor.alias,
            "vendor": executor.vendor,
            "migrations": [
                {
                    "version": s.version,
                    "name": s.label,
                    "state": state_name(s),
                    "applied_at": s.record.applied_at.isoformat() if s.record else None,
                    "execution_ms": s.record.execution_ms if s.record else None,
                    "checksum": s.record.checksum if s.record else s.migration.checksum,  # type: ignore[union-attr]
                    "problems": list(s.problems),
                    "out_of_order": s.out_of_order,
                    # The files this database uses: a vendor variant where there is one.
                    "up_file": str(s.migration.up.path) if s.migration else None,
                    "down_file": str(s.migration.down.path) if s.migration else None,
                    "variant": s.migration.up.variant if s.migration else None,
                }
                for s in states
            ],
            "pending": pending_versions(states),
            "problems": problem_lines(states),
        }


def state_name(state: MigrationState) -> str:
    if state.failed:
        return "failed"
    if state.applied:
        return "applied"
    return "skipped" if state.skipped else "pending"


def shown_path(path: Path) -> str:
    """A file's path as a person at the project root would type it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
