"""sqlmigrate_up's lint of the files it is about to run: warnings, unless strict."""

from __future__ import annotations

from collections.abc import Callable

from sqlmigrations import lint, squawk
from sqlmigrations.errors import UsageError
from sqlmigrations.executor import Executor, Step

from ._base import SqlMigrationsCommand


def lint_pending(
    command: SqlMigrationsCommand,
    executor: Executor,
    plan: Callable[[], list[Step]],
    *,
    strict: bool,
) -> None:
    """Print squawk's findings for the planned files as warnings.

    Nothing is planned unless the vendor has a linter and squawk is installed; a
    squawk that fails or times out (squawk.TIMEOUT) is a warning too. With
    ``strict`` (--strict, or SQLMIGRATIONS_LINT_ON_UP = "strict") either stops the
    run first; SQLMIGRATIONS_LINT_ON_UP = "off" turns this lint off unless --strict.
    """
    vendor = executor.database
    setting = lint.on_up()
    strict = strict or setting == "strict"
    if vendor.linter is None or (setting == "off" and not strict):
        return
    try:
        squawk.find_squawk()
    except squawk.SquawkMissing:
        if strict:
            raise
        if command.verbosity >= 2:
            command.stdout.write("Lint skipped: squawk is not installed.")
        return
    files = [step.sql_file for step in plan()]
    if not files:
        return
    try:
        report = lint.lint(files, vendor, executor.limits, vendor.server_facts())
    except squawk.SquawkFailed as exc:
        if strict:
            raise
        command.stdout.write(command.style.WARNING(f"Lint skipped: {exc}"))
        return
    if command.verbosity >= 1 or strict:
        for finding in report.findings:
            first, *rest = lint.text_lines(finding)
            command.stdout.write(command.style.WARNING(f"warning: {first}"))
            for line in rest:
                command.stdout.write(line)
        if report.findings:
            command.stdout.write(command.style.WARNING(f"Lint (squawk): {lint.summary(report)}"))
    if strict and report.findings:
        count = len(report.findings)
        raise UsageError(
            f"--strict: squawk found {count} finding{'s' if count != 1 else ''} in the "
            "pending files; nothing was run (fix them, or suppress each with "
            "'-- sqlmigrate: allow RULE REASON')"
        )
