"""PostgreSQL for sqlmigrate_verify: the scratch database, made and dropped as
Django's test runner makes its test database (the snapshot is pg_snapshot.py)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from sqlmigrations.errors import UsageError, scratch_exists
from sqlmigrations.vendors.pg_driver import sql_module


def scratch_name(connection: BaseDatabaseWrapper) -> str:
    """The name Django's test runner gives this database's test copy (``test_NAME``,
    or the alias's TEST NAME)."""
    return str(connection.creation._get_test_db_name())  # type: ignore[attr-defined]


def create_scratch(
    connection: BaseDatabaseWrapper, name: str, *, keep: bool, replace: bool
) -> bool:
    """Create the scratch database through ``connection``'s server, as Django's test
    runner does (its TEST CHARSET and TEMPLATE apply); True when ``keep`` found it."""
    with _server_cursor(connection) as cursor:
        quoted = _identifier(cursor, name)
        cursor.execute("SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is not None:
            if keep:
                return True
            if not replace:
                raise UsageError(scratch_exists(f"database {name}"))
            # Not forced: --replace may name a database someone is still using.
            cursor.execute(f"DROP DATABASE {quoted}")
        cursor.execute(f"CREATE DATABASE {quoted}{connection.creation.sql_table_creation_suffix()}")
    return False


def drop_scratch(connection: BaseDatabaseWrapper, name: str) -> None:
    with _server_cursor(connection) as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {_identifier(cursor, name)}{_force(cursor)}")


def _force(cursor: Any) -> str:
    """The scratch database this run made or reused is its own: a session someone
    left on it (a psql looking in) must not keep it, with the run's result lost to
    the error. WITH (FORCE) ends such sessions; PostgreSQL has it since 13."""
    return " WITH (FORCE)" if cursor.connection.info.server_version >= 130000 else ""


@contextmanager
def _server_cursor(connection: BaseDatabaseWrapper) -> Iterator[Any]:
    """A cursor outside the configured database, as Django's test runner takes one.
    When the 'postgres' database cannot be reached, Django uses the configured one
    and says so with a many-line RuntimeWarning: that is fine here, and unsaid."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="django")
        with connection._nodb_cursor() as cursor:
            yield cursor


def _identifier(cursor: Any, name: str) -> str:
    """``name`` as the server reads an identifier. Django's quote_name() does not
    double a ``"`` inside, and the scratch's name is the database's own."""
    return str(sql_module().Identifier(name).as_string(cursor.connection))
