"""``manage.py check`` reports invalid migration files without touching a database;
with ``--database ALIAS`` (and in ``migrate``), also what that database's history says."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import connections

from sqlmigrations import conf
from sqlmigrations.errors import ConfigurationError, InvalidMigrationFiles
from sqlmigrations.files import directory_key, load_migrations


@register("sqlmigrations")
def check_migration_files(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors: list[Error] = []
    seen: set[tuple[tuple[str, ...], str]] = set()
    for alias in settings.DATABASES:
        if not conf.has_migration_dirs(alias):
            continue
        try:
            dirs = conf.migration_dirs(alias)
        except ConfigurationError as exc:
            errors.append(Error(str(exc), id="sqlmigrations.E002"))
            continue
        # The vendor is known from settings alone: no connection is opened.
        vendor = connections[alias].vendor
        key = (tuple(str(directory_key(d)) for d in dirs), vendor)
        if key in seen:
            continue
        seen.add(key)
        missing = [d for d in dirs if not d.is_dir()]
        errors.extend(
            Error(
                f"migrations directory {d} does not exist (named by {conf.dirs_setting(alias)})",
                hint=f"database '{alias}': create it (python manage.py sqlmigrate_new "
                f'"first migration"{_database_option(alias)} creates it with its first '
                f"pair of files), or correct {conf.dirs_setting(alias)} in your settings.",
                id="sqlmigrations.E003",
            )
            for d in missing
        )
        try:
            migrations = load_migrations([d for d in dirs if d not in missing], vendor)
        except InvalidMigrationFiles as exc:
            errors.extend(
                Error(problem, hint=f"database '{alias}'", id="sqlmigrations.E001")
                for problem in exc.problems
            )
            continue
        # '-- sqlmigrate:' headers are read from the text alone, like the names.
        errors.extend(
            Error(
                f"{sql_file.path.name}:{line}: {problem}",
                hint=f"database '{alias}'",
                id="sqlmigrations.E001",
            )
            for migration in migrations
            for sql_file in (migration.up, migration.down)
            for line, problem in sql_file.directives.problems
        )
    return errors


def _database_option(alias: str) -> str:
    return "" if alias == "default" else f" --database {alias}"


@register(Tags.database)
def check_history(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[Error | Warning]:
    """Pending SQL migrations are a warning (migrate runs these checks, and must not
    refuse to run because of them); drifted and failed ones are errors, as every later
    sqlmigrate_up would stop on them."""
    from sqlmigrations.pending import outlook

    messages: list[Error | Warning] = []
    for alias in databases or ():
        found = outlook(alias)
        if found is None:
            continue
        option = _database_option(alias)
        if found.error:
            messages.append(
                Warning(
                    f"cannot read the SQL migration history of database '{alias}': {found.error}",
                    id="sqlmigrations.W002",
                )
            )
            continue
        if found.pending:
            messages.append(
                Warning(
                    f"{len(found.pending)} SQL migration(s) pending on database '{alias}': "
                    f"{found.pending_text}",
                    hint=f"apply them with python manage.py sqlmigrate_up{option}",
                    id="sqlmigrations.W001",
                )
            )
        messages.extend(
            Error(
                f"database '{alias}': {problem}",
                hint=f"see python manage.py sqlmigrate_status{option} and the README's "
                "'Recovering from each failure state'",
                id="sqlmigrations.E004",
            )
            for problem in found.problems
        )
    return messages
