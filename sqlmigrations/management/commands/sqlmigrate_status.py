from __future__ import annotations

import json
from argparse import ArgumentParser
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
            help="Print the status as JSON, for scripts.",
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
        else:
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
        self.stdout.write(self.style.MIGRATE_HEADING(f"Database: {describe(executor.connection)}"))
        if not states:
            self.stdout.write("  (no migrations)")
        for state in states:
            self.stdout.write(self.line(state))
        applied = sum(1 for s in states if s.applied)
        pending = len(pending_versions(states))
        problems = sum(1 for s in states if s.problems)
        summary = f"{applied} applied, {pending} pending, {problems} with problems."
        if skipped := sum(1 for s in states if s.skipped and not s.applied):
            summary = summary[:-1] + f", {skipped} skipped by settings."
        self.stdout.write(self.style.ERROR(summary) if problems else summary)

    def line(self, state: MigrationState) -> str:
        if state.problems:
            return self.style.ERROR(f" [!] {state.label}  {'; '.join(state.problems)}")
        if state.record is not None:
            when = (
                timezone.localtime(state.record.applied_at)
                if timezone.is_aware(state.record.applied_at)
                else state.record.applied_at
            )
            detail = f"applied {when:%Y-%m-%d %H:%M:%S %Z}".rstrip()
            return f" [X] {state.label}  {detail}"
        if state.skipped:
            return f" [-] {state.label}  skipped (SQLMIGRATIONS_SKIP_VERSIONS)"
        if state.out_of_order:
            return self.style.WARNING(
                f" [ ] {state.label}  pending, out of order (below the newest applied)"
            )
        return f" [ ] {state.label}  pending"

    def as_json(self, executor: Executor, states: list[MigrationState]) -> dict[str, Any]:
        return {
            "database": executor.alias,
            "vendor": executor.vendor,
            "migrations": [
                {
                    "version": s.version,
                    "name": s.label,
                    "state": "applied" if s.applied else "skipped" if s.skipped else "pending",
                    "applied_at": s.record.applied_at.isoformat() if s.record else None,
                    "execution_ms": s.record.execution_ms if s.record else None,
                    "checksum": s.record.checksum if s.record else s.migration.checksum,  # type: ignore[union-attr]
                    "problems": list(s.problems),
                    "out_of_order": s.out_of_order,
                }
                for s in states
            ],
            "pending": pending_versions(states),
            "problems": problem_lines(states),
        }
