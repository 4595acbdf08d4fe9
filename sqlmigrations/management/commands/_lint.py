"""sqlmigrate_up's lint of the files it is about to run: warnings, unless strict."""

from __future__ import annotations

from collections.abc import Callable

from sqlmigrations import lint, squawk
from sqlmigrations.errors import UsageError
from sqlmigrations.executor import Executor, Step

from ._base import SqlMigrationsCommand

# squawk holds a whole file's syntax tree: a 24 MB data migration takes it 7 s and
# 380 MB. Before a deploy's run, files this large (data, not schema changes) are left
# to sqlmigrate_lint, so that up's time and memory stay those of the run itself.
MAX_CHARS = 5_000_000


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
    large = [f for f in files if len(f.text) > MAX_CHARS]
    if large and command.verbosity >= 1:
        names = ", ".join(f.path.name for f in large)
        command.stdout.write(
            command.style.WARNING(
                f"Lint skipped for {names}: larger than {MAX_CHARS // 1_000_000} million "
                "characters (run sqlmigrate_lint on it)."
            )
        )
    files = [f for f in files if len(f.text) <= MAX_CHARS]
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
