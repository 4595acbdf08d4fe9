"""SQLite for sqlmigrate_verify: the scratch file, and the schema read from
``sqlite_master`` (each table, index, view and trigger with its SQL), the
columns as ``pragma_table_info`` reports them, and each table's row count.

SQLite's own entries (``sqlite_sequence``, ``sqlite_autoindex_*``, ``sqlite_stat1``)
are left out: SQLite makes them as it needs them and never drops them with the
objects they serve, so they say nothing about a down file.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.creation import DatabaseCreation

from sqlmigrations.errors import UsageError, scratch_exists
from sqlmigrations.snapshot import Snapshot

OWN = r"name NOT LIKE 'sqlite\_%' ESCAPE '\'"
SCHEMA_SQL = f"SELECT type, name, sql FROM sqlite_master WHERE {OWN}"
COLUMNS_SQL = (
    'SELECT m.name, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.cid + 1 '
    f"FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.{OWN}"
)
# File header values a migration may set (PRAGMA user_version = ...).
PRAGMAS_SQL = (
    "SELECT 'user_version', user_version FROM pragma_user_version "
    "UNION ALL SELECT 'application_id', application_id FROM pragma_application_id"
)
# The object's name in its stored CREATE statement: SQLite writes it as the statement
# had it, but quoted ("t") after ALTER TABLE ... RENAME, as in SQLite's documented way
# to rebuild a table; the same schema must give the same snapshot either way.
CREATED_NAME = re.compile(
    r"^(CREATE\s+(?:UNIQUE\s+)?(?:TEMP(?:ORARY)?\s+)?(?:TABLE|INDEX|VIEW|TRIGGER)\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?)"
    r"(\"(?:[^\"]|\"\")*\"|`(?:[^`]|``)*`|\[[^\]]*\]|[^\s(]+)",
    re.IGNORECASE,
)
# Lock, journal and WAL files SQLite and the runner keep beside a database file.
COMPANIONS = ("-sqlmigrations-lock", "-journal", "-wal", "-shm")


def snapshot(connection: BaseDatabaseWrapper) -> Snapshot:
    found: Snapshot = {}
    with connection.cursor() as cursor:
        cursor.execute(SCHEMA_SQL)
        tables = []
        for kind, name, sql in cursor.fetchall():
            text = re.sub(r"\s+", " ", sql or "").strip()
            if created := CREATED_NAME.match(text):
                text = created.group(1) + name + text[created.end() :]
            found[kind, name] = text
            if kind == "table":
                tables.append(name)
        cursor.execute(COLUMNS_SQL)
        for table, column, type_, notnull, default, pk, position in cursor.fetchall():
            found["column", f"{table}.{column}"] = " ".join(
                part
                for part in (
                    type_,
                    "NOT NULL" if notnull else "NULL",
                    f"DEFAULT {default}" if default is not None else "",
                    "PRIMARY KEY" if pk else "",
                    f"position {position}",
                )
                if part
            )
        cursor.execute(PRAGMAS_SQL)
        for name, value in cursor.fetchall():
            found["pragma", name] = str(value)
        if tables:
            cursor.execute(
                " UNION ALL ".join(
                    f"SELECT {_literal(t)}, count(*) FROM {_identifier(t)}" for t in tables
                )
            )
            for table, count in cursor.fetchall():
                found["rows", table] = str(count)
    return found


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def scratch_name(connection: BaseDatabaseWrapper) -> str:
    """The alias's TEST NAME when it is a file; otherwise ``test_NAME`` beside the
    database file (Django's prefix: its own default, an in-memory copy, could be
    neither kept for --keepdb nor seen by another process)."""
    settings = connection.settings_dict
    test_name = settings.get("TEST", {}).get("NAME")
    if test_name and not DatabaseCreation.is_in_memory_db(test_name):
        return str(test_name)
    name = str(settings["NAME"])
    if DatabaseCreation.is_in_memory_db(name):
        raise UsageError(
            "the database is in memory: give it a TEST NAME (a file) for the scratch copy"
        )
    path = Path(name)
    return str(path.with_name(f"test_{path.name}"))


def create_scratch(name: str, *, keep: bool, replace: bool) -> bool:
    """Nothing to create (connecting makes the file); True when ``keep`` found it."""
    if Path(name).exists():
        if keep:
            return True
        if not replace:
            raise UsageError(scratch_exists(f"file {name}"))
        drop_scratch(name)
    return False


def drop_scratch(name: str) -> None:
    for path in [name, *(name + suffix for suffix in COMPANIONS)]:
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()
