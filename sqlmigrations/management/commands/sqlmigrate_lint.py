from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from sqlmigrations import lint, squawk
from sqlmigrations.database import describe
from sqlmigrations.errors import DatabaseUnavailable, UsageError
from sqlmigrations.executor import Executor, pending_versions
from sqlmigrations.files import SqlFile, read_sql_files, variant_of

from ._base import SqlMigrationsCommand

FORMATS = ("text", "json", "github")


class Command(SqlMigrationsCommand):
    help = (
        "Check migration files for dangerous statements with squawk (PostgreSQL), each "
        "as the runner would run it. Exit code 1 when any finding remains."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "files",
            nargs="*",
            type=Path,
            metavar="FILE",
            help="Files to lint (default: the pending migrations' up files).",
        )
        parser.add_argument(
            "--all",
            action="store_true",
            help="Lint every migration's up and down file, applied or not.",
        )
        parser.add_argument(
            "--format",
            choices=FORMATS,
            default="text",
            help="text (file:line: rule: message), json, or github (workflow-command "
            "annotations that show on a pull request's diff).",
        )

    def interrupted_message(self, exc: KeyboardInterrupt) -> str:
        return "interrupted; lint only reads, nothing was changed."

    def run(self, **options: Any) -> None:
        if options["all"] and options["files"]:
            raise UsageError("give either --all or files, not both")
        executor = Executor(options["database"])
        vendor = executor.database
        if self.verbosity >= 2 and options["format"] == "text":  # json: one document
            self.stdout.write(f"Database: {describe(executor.connection)}")
        if vendor.linter is None:
            if self.verbosity >= 1:
                self.stdout.write(vendor.lint_notice)
            return
        squawk.find_squawk()  # not installed: say how, before reading anything
        files = self.files(executor, options)
        report = lint.lint(files, vendor, executor.limits, vendor.server_facts())
        self.output(report, options["format"])
        if report.findings:
            raise CommandError(lint.summary(report), returncode=1)

    def files(self, executor: Executor, options: dict[str, Any]) -> list[SqlFile]:
        if options["files"]:
            vendor = executor.vendor
            others = [p for p in options["files"] if variant_of(p) not in (None, vendor)]
            if others:
                raise UsageError(
                    f"{others[0]} is the {variant_of(others[0])} variant; the runner uses it "
                    f"only there, and this database is {vendor}"
                )
            return read_sql_files(options["files"])
        if options["all"]:
            return [f for m in executor.migrations() for f in (m.up, m.down)]
        try:
            states = executor.status()
        except DatabaseUnavailable as exc:
            raise DatabaseUnavailable(
                f"{exc} (the pending files come from its history; --all or file arguments "
                "lint without it)"
            ) from exc
        pending = set(pending_versions(states))
        return [s.migration.up for s in states if s.version in pending and s.migration]

    def output(self, report: lint.Report, form: str) -> None:
        if form == "json":
            self.stdout.write(lint.as_json(report))
            return
        if form == "github":
            for line in lint.github_lines(report.findings):
                self.stdout.write(line)
        else:
            for finding in report.findings:
                for line in lint.text_lines(finding):
                    self.stdout.write(line)
        if self.verbosity >= 2 and form != "json":
            self.details(report)
        if not report.findings and self.verbosity >= 1:
            self.stdout.write(lint.summary(report))

    def details(self, report: lint.Report) -> None:
        version = report.pg_version or "squawk's default"
        self.stdout.write(f"squawk {report.squawk_version}, PostgreSQL {version}")
        for note in report.notes:
            self.stdout.write(f"  note: {note}")
        for finding, by in report.suppressed:
            where = f"{lint.display(finding.path)}:{finding.line}"
            self.stdout.write(f"  suppressed: {where}: {finding.rule}, by the {by}")
        for allow in report.allows:
            if not allow.used:
                self.stdout.write(f"  unused: {allow.describe()}")
