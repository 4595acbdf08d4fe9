"""What Django's own entry points say about SQL migrations: runserver's warning, the
database-tagged system check and ``migrate --check`` read the history through here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from sqlmigrations import conf
from sqlmigrations.errors import SqlMigrationsError, one_line
from sqlmigrations.executor import Executor


@dataclass(frozen=True)
class Outlook:
    pending: list[str]  # labels, in version order
    problems: list[str]  # "label: problem" for drifted and failed migrations
    error: str | None = None  # why the history could not be read

    @property
    def pending_text(self) -> str:
        return ", ".join(self.pending)


def outlook(alias: str) -> Outlook | None:
    """Pending and troubled migrations of ``alias``; None when it has no migration
    directories. Never raises: a database that cannot be read is the error's text."""
    if not conf.has_migration_dirs(alias):
        return None
    try:
        states = Executor(alias).status()
    except (SqlMigrationsError, DatabaseError, ImproperlyConfigured) as exc:
        return Outlook([], [], one_line(str(exc)))
    return Outlook(
        [s.label for s in states if s.pending],
        [f"{s.label}: {problem}" for s in states for problem in s.problems],
    )


def warn_on_runserver(command: Any) -> None:
    """runserver's notice about pending SQL migrations, beside Django's own."""
    from django.db import DEFAULT_DB_ALIAS

    found = outlook(DEFAULT_DB_ALIAS)
    if found is None:
        return
    notice = command.style.NOTICE
    if found.error:
        command.stdout.write(notice(f"\nCould not check the SQL migrations: {found.error}"))
        return
    if found.pending:
        count = len(found.pending)
        command.stdout.write(
            notice(
                f"\nYou have {count} unapplied SQL migration(s): {found.pending_text}. "
                "Your project may not work properly until you apply them."
            )
        )
        command.stdout.write(notice("Run 'python manage.py sqlmigrate_up' to apply them."))
    for problem in found.problems:
        command.stdout.write(notice(f"SQL migration {problem}"))
    if found.problems:
        command.stdout.write(notice("See 'python manage.py sqlmigrate_status'."))
