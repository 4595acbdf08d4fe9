from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from sqlmigrations.errors import MigrationInterrupted, SqlMigrationsError
from sqlmigrations.files import Migration
from sqlmigrations.verify import Outcome, Report, Verifier

from ._base import SqlMigrationsCommand, version_number


class NotReversible(SqlMigrationsError):
    """Some down file does not undo its up file (exit 1)."""


class Command(SqlMigrationsCommand):
    help = (
        "Check that every down file undoes its up file: on a scratch database, apply, "
        "revert and re-apply each migration in order, comparing the schema each time."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--from",
            dest="start",
            type=version_number,
            default=0,
            metavar="VERSION",
            help="Apply migrations up to and including VERSION without checking them "
            "(a known-good point), and check only the later ones.",
        )
        parser.add_argument(
            "--keepdb",
            action="store_true",
            help="Reuse the scratch database if it exists (first rolling back what it "
            "holds after --from) and keep it afterwards, as Django's test --keepdb does.",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Drop a scratch database left by an earlier run instead of stopping.",
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="Output: text for people (default), or json for scripts.",
        )
        self.add_lock_timeout(parser)

    keep = False

    def interrupted_message(self, exc: KeyboardInterrupt) -> str:
        scratch = "kept (--keepdb)" if self.keep else "dropped"
        return f"interrupted; the scratch database was {scratch}, nothing else was changed."

    def run(self, **options: Any) -> None:
        text = options["format"] == "text"
        self.keep = options["keepdb"]
        verifier = Verifier(
            options["database"],
            start=options["start"],
            keep=options["keepdb"],
            replace=options["replace"],
            on_begin=lambda count: self.begin(count, options) if text else None,
            on_start=self.started if text else lambda _: None,
            on_outcome=self.finished if text else lambda _: None,
            on_wait=self.stdout.write,
            lock_timeout=options["lock_timeout"],
        )
        self.verifier = verifier
        try:
            report = verifier.run()
        except MigrationInterrupted:
            # Said as for any interruption here: only the scratch database changed.
            raise KeyboardInterrupt from None
        if text:
            self.summary(report)
        else:
            self.stdout.write(json.dumps(as_json(report), indent=2))
        if report.irreversible:
            raise NotReversible(failure_line(report))

    def begin(self, count: int, options: dict[str, Any]) -> None:
        """The scratch database is ready: say which, and how many will be verified."""
        if self.verbosity >= 1:
            kept = "kept" if options["keepdb"] else "dropped"
            self.stdout.write(
                f"Verifying {count} migration{'s' if count != 1 else ''} on the scratch "
                f"database {self.verifier.scratch} ({kept} afterwards)..."
            )

    def started(self, migration: Migration) -> None:
        if self.verbosity >= 1:
            self.stdout.write(f"  {migration}...", ending="")
            self.stdout.flush()

    def finished(self, outcome: Outcome) -> None:
        if self.verbosity < 1:
            return
        if outcome.status == "reversible":
            self.stdout.write(self.style.SUCCESS(" reversible"))
            return
        self.stdout.write(self.style.ERROR(f" {outcome.status.upper()}"))
        for line in outcome.lines():
            for part in line.splitlines():
                self.stdout.write(f"      {part}")

    def summary(self, report: Report) -> None:
        if self.verbosity < 1:
            return
        checked = sum(1 for o in report.outcomes if o.status != "not verified")
        if not report.outcomes:
            self.stdout.write(f"No migrations after {report.start} to verify.")
        elif not report.irreversible:
            self.stdout.write(f"All {checked} migrations are reversible.")


def failure_line(report: Report) -> str:
    """Every migration that failed the check, named, on one line."""
    parts = []
    if bad := [o.migration.label for o in report.outcomes if o.status == "irreversible"]:
        parts.append(f"not reversible: {', '.join(bad)}")
    parts += [
        f"{o.migration.label}: its {o.step} failed" for o in report.outcomes if o.status == "failed"
    ]
    if skipped := sum(1 for o in report.outcomes if o.status == "not verified"):
        parts.append(f"{skipped} later migration{'s' if skipped != 1 else ''} not verified")
    return "; ".join(parts)


def as_json(report: Report) -> dict[str, Any]:
    return {
        "database": report.database,
        "vendor": report.vendor,
        "scratch_database": report.scratch,
        "kept": report.kept,
        "from": report.start,
        "reversible": not report.irreversible,
        "irreversible": [o.migration.label for o in report.irreversible],
        "migrations": [o.as_json() for o in report.outcomes],
    }
