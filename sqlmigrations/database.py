"""Resolve a database alias and connect to it, with errors that never show a password."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.db import Error as DjangoDatabaseError
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper
from django.utils.connection import ConnectionDoesNotExist

from sqlmigrations.errors import (
    ConfigurationError,
    DatabaseUnavailable,
    UsageError,
    mask_secrets,
    one_line,
)


def get_connection(alias: str) -> BaseDatabaseWrapper:
    try:
        connection = connections[alias]
    except ConnectionDoesNotExist:
        known = ", ".join(connections.settings) or "none"
        raise UsageError(f"unknown database alias '{alias}' (configured: {known})") from None
    except (ImproperlyConfigured, ImportError) as exc:
        # Its backend does not load, e.g. the driver is not installed.
        reason = one_line(str(exc)) or type(exc).__name__
        raise ConfigurationError(
            mask_secrets(
                f"database '{alias}' cannot be used: {reason}", connections.settings.get(alias, {})
            )
        ) from exc
    from sqlmigrations.vendors import VENDORS  # they use this module's helpers

    if connection.vendor not in VENDORS:
        raise UsageError(
            f"database '{alias}' is {connection.vendor}; sqlmigrations supports "
            f"{' and '.join(VENDORS)}"
        )
    return connection


def describe(connection: BaseDatabaseWrapper) -> str:
    """Where a connection points, for messages: never includes the password."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite {settings['NAME']}"
    user = f"{settings['USER']}@" if settings.get("USER") else ""
    host = settings.get("HOST") or "localhost"
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"{connection.vendor} {user}{host}{port}/{settings['NAME'] or '(no name)'}"


def connect(
    connection: BaseDatabaseWrapper,
    explain: Callable[[Exception], str | None] | None = None,
) -> None:
    """Connect now, or raise DatabaseUnavailable naming where (``explain``: the
    vendor's clearer reason for a driver error, such as a connect timeout)."""
    try:
        connection.ensure_connection()
    except ImproperlyConfigured as exc:
        # Django refuses the settings before trying (no NAME, say): bad input, exit 2.
        raise ConfigurationError(
            mask_secrets(
                f"database '{connection.alias}' ({describe(connection)}) is not configured "
                f"completely: {one_line(str(exc))}",
                connection.settings_dict,
            )
        ) from exc
    except DjangoDatabaseError as exc:
        reason = (explain and explain(exc)) or one_line(str(exc)) or type(exc).__name__
        raise DatabaseUnavailable(
            mask_secrets(
                f"cannot connect to database '{connection.alias}' "
                f"({describe(connection)}): {reason}",
                connection.settings_dict,
            )
        ) from exc


def is_in_memory(connection: BaseDatabaseWrapper) -> bool:
    """True for an in-memory SQLite database (nothing on disk to find or back up)."""
    return isinstance(connection, SQLiteDatabaseWrapper) and connection.is_in_memory_db()
