"""Apply SQL migrations when Django builds a test database.

Django's test runner and pytest-django both create the test database by calling
``migrate``, which then sends ``post_migrate``; hooking that signal gives every
project the production schema in its tests just by installing the app, and with
--keepdb / --reuse-db only what is pending is applied.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from typing import Any

from django.core import mail
from django.core.management.base import CommandError, OutputWrapper

from sqlmigrations import conf
from sqlmigrations.errors import SqlMigrationsError
from sqlmigrations.executor import Executor, Progress

# Set by the migrate command for its run: --fake fakes the SQL migrations too (the
# signal does not say whether Django's were faked).
MIGRATE_FAKE: ContextVar[bool] = ContextVar("sqlmigrations_migrate_fake", default=False)


def in_test_environment() -> bool:
    # setup_test_environment() creates mail.outbox and teardown deletes it; both
    # Django's runner and pytest-django call them around a test run.
    return hasattr(mail, "outbox")


def apply_on_migrate(sender: Any, using: str, verbosity: int = 1, **kwargs: Any) -> None:
    if "plan" not in kwargs:
        return  # sent by flush (TransactionTestCase), not by migrate
    try:
        mode = conf.apply_on_migrate()
    except SqlMigrationsError as exc:  # the migrate command refuses it first; call_command too
        raise CommandError(str(exc), returncode=exc.exit_code) from exc
    if mode is False or (mode == "tests" and not in_test_environment()):
        return
    if not conf.has_migration_dirs(using):
        return
    stdout = kwargs.get("stdout") or OutputWrapper(sys.stdout)

    def report(progress: Progress) -> None:
        if verbosity >= 1 and progress.event == "apply_success":
            done = "FAKED" if progress.message == "faked" else f"OK ({progress.elapsed_ms} ms)"
            stdout.write(f"  Applying SQL migration {progress.migration}... {done}")

    try:
        Executor(using, progress=report).up(fake=MIGRATE_FAKE.get())
    except SqlMigrationsError as exc:
        raise CommandError(
            f"applying SQL migrations to database '{using}' failed: {exc}",
            returncode=exc.exit_code,
        ) from exc
