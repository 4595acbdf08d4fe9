"""What every sqlmigrate_* command shares: --database, options never abbreviated, --version,
clean errors and exit codes, and progress output with one meaning of -v."""

from __future__ import annotations

import signal
import sys
import traceback
from argparse import ArgumentParser, ArgumentTypeError
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import Error as DjangoDatabaseError
from django.db import connections

import sqlmigrations
from sqlmigrations import conf
from sqlmigrations.database import describe
from sqlmigrations.errors import SqlMigrationsError, mask_secrets, one_line
from sqlmigrations.executor import Executor, Progress, Step
from sqlmigrations.files import MAX_VERSION
from sqlmigrations.vendors.sqlite import is_busy_error
from sqlmigrations.waits import MAX_SECONDS

INTERRUPTED = 130
# A run of this many migrations or more numbers its lines: [ 12/500] Applying ...
COUNTER_FROM = 10


class Interrupted(SqlMigrationsError):
    """Ctrl-C outside a migration, where nothing was being changed."""

    exit_code = INTERRUPTED


def _whole(value: str, what: str, minimum: int, maximum: int | None = None) -> int:
    """An option's whole number within bounds, or argparse's one-line error."""
    try:
        number = int(value)
    except ValueError:
        raise ArgumentTypeError(f"'{value}' is not {what}") from None
    if number < minimum:
        raise ArgumentTypeError(f"must be {minimum} or more, not {number}")
    if maximum is not None and number > maximum:
        raise ArgumentTypeError(f"must be at most {maximum}")
    return number


def positive_int(value: str) -> int:
    return _whole(value, "a whole number", 1)


def version_number(value: str) -> int:
    return _whole(value, "a migration version number", 0, MAX_VERSION)


def whole_number(value: str) -> int:
    return _whole(value, "a whole number", 0)


def limit_seconds(value: str) -> float:
    """A migration's limit: the databases take at most a C int of milliseconds."""
    try:
        number = float(value)
    except ValueError:
        raise ArgumentTypeError(f"'{value}' is not a number of seconds") from None
    if not 0 <= number <= MAX_SECONDS:  # also refuses nan
        raise ArgumentTypeError(f"must be from 0 to {MAX_SECONDS:g} seconds, not {value}")
    return number


def seconds(value: str) -> float:
    try:
        return conf.checked_lock_timeout(value)
    except ValueError as exc:
        raise ArgumentTypeError(str(exc)) from None


class OneLineErrorParser(CommandParser):
    """argparse prints the whole usage before a bad option's error; one line is enough."""

    def error(self, message: str) -> NoReturn:
        if self.called_from_command_line:
            self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
        raise CommandError(f"Error: {message}", returncode=2)


class CtrlC:
    """The first Ctrl-C raises KeyboardInterrupt as always; later ones are ignored, so
    that the clean-up the first one started (rollback, releasing the lock, the error
    line) cannot be cut short by a second traceback."""

    def __init__(self) -> None:
        self.installed = False
        self.terminable = False

    def install(self) -> None:
        # A parent that ignores SIGINT (nohup, a shell's background job) keeps it ignored.
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, self._on_sigint)
            self.installed = True
        # SIGTERM (docker stop, systemd, a deploy tool's timeout) gets the same clean-up
        # instead of dying mid-backup with pg_dump left running and a partial file.
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, self._on_sigint)
            self.terminable = True

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.finish()
        raise KeyboardInterrupt

    def finish(self) -> None:
        """From now on Ctrl-C is ignored: there is only clean-up and the report left.
        SIG_IGN rather than a handler, as Python restores the default one (which kills
        the process) while it exits."""
        if self.installed:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if self.terminable:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)


class SqlMigrationsCommand(BaseCommand):
    # Like Django's migrate: system checks must not stand between a deploy and its schema.
    requires_system_checks: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ctrl_c = CtrlC()
        self.verbosity = 1
        # What the run has done so far, for the line an interruption ends with.
        self.waiting_for_lock = False
        self.done: list[str] = []
        self.done_verb = "applied"

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # No abbreviations: argparse would take --backup for --backup-dir, and an option
        # added later would silently change what an abbreviation already in a script means.
        kwargs.setdefault("allow_abbrev", False)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = OneLineErrorParser
        return parser

    def get_version(self) -> str:
        """--version prints the app's version, not Django's."""
        return sqlmigrations.__version__

    def run_from_argv(self, argv: list[str]) -> None:
        self.ctrl_c.install()
        try:
            super().run_from_argv(argv)
        except KeyboardInterrupt:
            # handle() answers its own interruptions: this one came while the options
            # were read, before anything ran.
            if "--traceback" in argv:
                raise
            self.stderr.write(
                "CommandError: interrupted before the command started; nothing was changed."
            )
            sys.exit(INTERRUPTED)

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
            options["database"],
            progress=self.report,
            lock_timeout=options["lock_timeout"],
            statement_lock_timeout=options.get("statement_lock_timeout"),
            lock_retries=options.get("lock_retries"),
            statement_timeout=options.get("statement_timeout"),
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

    def add_migration_waits(self, parser: ArgumentParser) -> None:
        """Each migration's own waits, not the wait for another runner (--lock-timeout)."""
        parser.add_argument(
            "--statement-lock-timeout",
            type=limit_seconds,
            default=None,
            metavar="SECONDS",
            help="How long each attempt of a migration may wait for a table lock held by "
            "another session; 0 waits indefinitely "
            "(default: SQLMIGRATIONS_STATEMENT_LOCK_TIMEOUT, 5).",
        )
        parser.add_argument(
            "--lock-retries",
            type=whole_number,
            default=None,
            metavar="N",
            help="How many times a migration that timed out on a lock is tried again "
            "(default: SQLMIGRATIONS_LOCK_RETRIES, 3).",
        )
        parser.add_argument(
            "--statement-timeout",
            type=limit_seconds,
            default=None,
            metavar="SECONDS",
            help="PostgreSQL: how long one statement of a migration may run; 0 disables "
            "(default: SQLMIGRATIONS_STATEMENT_TIMEOUT, or the session's own).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = options["verbosity"]
        alias = options["database"]
        try:
            try:
                self.run(**options)
            finally:
                self.ctrl_c.finish()
        except KeyboardInterrupt as exc:
            self._show_traceback()
            message = self.interrupted_message(exc)
            raise CommandError(message, returncode=INTERRUPTED) from exc
        except SqlMigrationsError as exc:
            self._show_traceback()
            raise CommandError(self._mask(str(exc), alias), returncode=exc.exit_code) from exc
        except ImproperlyConfigured as exc:
            # Settings Django refuses where the runner does not catch it itself: bad input.
            self._show_traceback()
            raise CommandError(
                self._mask(f"improperly configured: {one_line(str(exc))}", alias),
                returncode=2,
            ) from exc
        except DjangoDatabaseError as exc:
            self._show_traceback()
            raise CommandError(
                self._mask(f"database error: {one_line(str(exc))}", alias), returncode=1
            ) from exc

    def interrupted_message(self, exc: KeyboardInterrupt) -> str:
        """What Ctrl-C outside a migration stopped (inside one, the executor says)."""
        if self.done:
            return (
                f"interrupted between migrations; {self.done_verb} before the interruption: "
                f"{', '.join(self.done)}; nothing more was changed."
            )
        if self.waiting_for_lock or waited_for_sqlite_lock(exc):
            return "interrupted while waiting for the migration lock; nothing was changed."
        return "interrupted before any migration ran; nothing was changed."

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
        event, migration = progress.event, progress.migration
        self.waiting_for_lock = event == "wait"
        if event in ("apply_success", "unapply_success"):
            self.done.append(str(migration))
            self.done_verb = "applied" if event == "apply_success" else "rolled back"
        if self.verbosity < 1:
            return
        if event == "wait":
            self.stdout.write(progress.message)
        elif event in ("retry", "lock_wait"):
            # Ends the "Applying ..." line; the next attempt starts a new one.
            self.stdout.write(" " + self.style.WARNING(progress.message))
        elif event == "backup":
            self.stdout.write(f"Backup written to {progress.message}")
        elif event in ("apply_start", "unapply_start"):
            self.report_start(progress)
        elif event in ("apply_success", "unapply_success"):
            if progress.message == "faked":
                self.stdout.write(self.style.SUCCESS(" FAKED"))
            else:
                self.stdout.write(self.style.SUCCESS(f" OK ({progress.elapsed_ms} ms)"))
        elif event == "failure":
            self.stdout.write(self.style.ERROR(" FAILED"))

    def report_start(self, progress: Progress) -> None:
        """'  Applying 001_x...' (the result ends the line). A run of COUNTER_FROM or more
        migrations numbers them; -v 2 names the file, -v 3 first prints its statements."""
        word = "Applying" if progress.event == "apply_start" else "Unapplying"
        step, counter = progress.step, progress.counter
        if step is not None and self.verbosity >= 3 and progress.message != "again":
            self.print_statements(step)
        prefix = ""
        if counter is not None and counter[1] >= COUNTER_FROM:
            prefix = f"[{counter[0]:>{len(str(counter[1]))}}/{counter[1]}] "
        file = f" ({step.sql_file.path.name})" if step is not None and self.verbosity >= 2 else ""
        self.stdout.write(f"  {prefix}{word} {progress.migration}{file}...", ending="")
        self.stdout.flush()

    def print_statements(self, step: Step) -> None:
        """Each statement as the runner sends it, under its file:line."""
        name = step.sql_file.path.name
        for statement in step.statements:
            self.stdout.write(self.style.MIGRATE_LABEL(f"    -- {name}:{statement.line}"))
            for line in statement.sql.strip("\n").splitlines():
                self.stdout.write(f"    {line}")

    def print_plan(self, plan: list[Step], verb: str, *, empty: str) -> None:
        """The --dry-run output: the plan, then each file's SQL as it would run (at -v 3,
        as the statements the runner would send)."""
        if self.verbosity < 1:
            return
        if not plan:
            self.stdout.write(empty)
            return
        self.stdout.write(
            self.style.MIGRATE_HEADING("Planned operations (dry run, nothing is changed):")
        )
        for step in plan:
            file = f" ({step.sql_file.path})" if self.verbosity >= 2 else ""
            self.stdout.write(f"  {verb} {step.migration}{file}")
        for step in plan:
            self.stdout.write("")
            if self.verbosity >= 3:
                self.print_statements(step)
                continue
            self.stdout.write(self.style.MIGRATE_LABEL(f"-- {step.sql_file.path.name}"))
            self.stdout.write(step.sql_file.text.rstrip("\n"))


def waited_for_sqlite_lock(exc: BaseException) -> bool:
    """SQLite waits for a write lock inside the library, where Ctrl-C is only seen once
    the wait ends, as "database is locked": the interruption then follows that error."""
    context = exc.__context__
    while context is not None:
        if is_busy_error(context):
            return True
        context = context.__context__
    return False
