"""History tables other runners keep: which runner a table looks like, and what it says.

A database another runner migrated has its own ``schema_migrations`` (the same name as
this app's history), or a table of its own name (Flyway, Django). Tables are told apart
by their columns, read through Django's introspection, so this works on every vendor.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from sqlmigrations.errors import UsageError
from sqlmigrations.files import MAX_VERSION
from sqlmigrations.models import SchemaMigration

TABLE = SchemaMigration._meta.db_table
OWN_COLUMNS = frozenset(f.column for f in SchemaMigration._meta.concrete_fields)

# Runners whose history is a table named like this app's, by its exact columns.
GOLANG_MIGRATE = "golang-migrate"
DBMATE = "dbmate"
NODE = "node"
FLYWAY = "flyway"
DJANGO = "django"
SAME_NAME = {
    frozenset({"version", "dirty"}): GOLANG_MIGRATE,
    frozenset({"version"}): DBMATE,
    frozenset({"version", "name", "applied_at"}): NODE,
}
RUNNER_NAMES = {
    GOLANG_MIGRATE: "golang-migrate",
    DBMATE: "dbmate",
    NODE: "the Node runner",
    FLYWAY: "Flyway",
    DJANGO: "Django",
}
OWN_TABLES = {FLYWAY: "flyway_schema_history", DJANGO: "django_migrations"}
ADOPT_COMMAND = "manage.py sqlmigrate_adopt"


class ForeignHistory(UsageError):
    """The database's schema_migrations was written by another runner."""


def columns(connection: BaseDatabaseWrapper, table: str) -> frozenset[str]:
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, table)
    return frozenset(column.name.lower() for column in description)


def same_name_runner(connection: BaseDatabaseWrapper) -> str | None:
    """The runner that wrote ``schema_migrations`` (None: it is this app's own table);
    ForeignHistory for a table of that name that no known runner makes."""
    found = columns(connection, TABLE)
    if found >= OWN_COLUMNS:
        return None
    runner = SAME_NAME.get(found)
    if runner is None:
        raise ForeignHistory(
            f"the table {TABLE} in database '{connection.alias}' is not this app's history "
            f"(its columns: {', '.join(sorted(found))}) and not one this app can adopt "
            "(golang-migrate's, dbmate's or the Node runner's); nothing was run. Rename it "
            "or point this database elsewhere."
        )
    return runner


def refuse_foreign(connection: BaseDatabaseWrapper) -> None:
    """Every command's check, before its first query of the history."""
    runner = same_name_runner(connection)
    if runner is not None:
        raise ForeignHistory(
            f"the table {TABLE} in database '{connection.alias}' looks like "
            f"{RUNNER_NAMES[runner]}'s history, not this app's; nothing was run. Adopt it "
            f"once with: {ADOPT_COMMAND} --database {connection.alias} (it records the "
            f"versions {RUNNER_NAMES[runner]} applied and keeps its table under another name)"
        )


@dataclass
class Recorded:
    """What another runner's history says: applied versions with when (None: unknown)."""

    runner: str
    table: str
    applied: dict[int, tuple[datetime.datetime | None, int]] = field(default_factory=dict)
    # golang-migrate and a Flyway baseline keep only "everything up to N".
    up_to: int | None = None
    problems: list[str] = field(default_factory=list)


def read(connection: BaseDatabaseWrapper, runner: str, app: str | None = None) -> Recorded:
    table = OWN_TABLES.get(runner, TABLE)
    recorded = Recorded(runner, table)
    with connection.cursor() as cursor:
        quoted = connection.ops.quote_name(table)
        if runner == GOLANG_MIGRATE:
            cursor.execute(f"SELECT version, dirty FROM {quoted}")
            for version, dirty in cursor.fetchall():
                # One row, the current version: it and every file below it are applied.
                number = _version(recorded, version)
                if number is not None:
                    recorded.up_to = max(recorded.up_to or 0, number)
                    recorded.applied[number] = (None, 0)
                if dirty:
                    recorded.problems.append(
                        f"golang-migrate marks version {version} dirty: it failed midway and "
                        "may be partly applied. Make the database match a version and run "
                        "golang-migrate's 'force' for it, then adopt"
                    )
        elif runner == DBMATE:
            cursor.execute(f"SELECT version FROM {quoted}")
            for (version,) in cursor.fetchall():
                _add(recorded, version, None, 0)
        elif runner == NODE:
            cursor.execute(f"SELECT version, applied_at FROM {quoted}")
            for version, applied_at in cursor.fetchall():
                _add(recorded, version, applied_at, 0)
        elif runner == FLYWAY:
            _read_flyway(cursor, quoted, recorded)
        else:
            cursor.execute(
                f"SELECT name, applied FROM {quoted} WHERE app = %s ORDER BY id",
                [app],
            )
            for name, applied in cursor.fetchall():
                # A Django migration 0002_x is version 2, like a SQL file 0002_x.
                digits = re.match(r"[0-9]*", name)
                _add(recorded, digits.group() if digits else "", applied, 0, name)
    return recorded


def _read_flyway(cursor: CursorWrapper, quoted: str, recorded: Recorded) -> None:
    """Rows in installed_rank order: a successful SQL row applies its version, an
    UNDO_SQL row takes it back, a failed row is Flyway's dirty state."""
    cursor.execute(
        "SELECT version, type, success, installed_on, execution_time, script "
        f"FROM {quoted} ORDER BY installed_rank"
    )
    for version, kind, success, installed_on, execution_time, script in cursor.fetchall():
        if version is None:  # the schema-creation marker, repeatable migrations
            continue
        if not success:
            recorded.problems.append(
                f"Flyway recorded {script} (version {version}) as failed: it may be partly "
                "applied. Fix the database and run Flyway's 'repair', then adopt"
            )
        elif kind == "BASELINE":
            recorded.up_to = _version(recorded, version)
        elif kind == "UNDO_SQL":
            recorded.applied.pop(_version(recorded, version) or 0, None)
        else:
            _add(recorded, version, installed_on, execution_time or 0)


def _version(recorded: Recorded, version: object, name: object = None) -> int | None:
    # ASCII digits only ('²'.isdigit() is true), compared by length before int(), which
    # refuses very long strings: another table's text is anything.
    text = str(version).strip()
    significant = text.lstrip("0")
    if (
        re.fullmatch(r"[0-9]+", text)
        and 0 < len(significant) <= len(str(MAX_VERSION))
        and int(significant) <= MAX_VERSION
    ):
        return int(significant)
    shown = repr(name or version)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    recorded.problems.append(
        f"{RUNNER_NAMES[recorded.runner]}'s history names version {shown}, "
        f"which is not a whole number from 1 to {MAX_VERSION} as this app's versions are"
    )
    return None


def _add(
    recorded: Recorded, version: object, when: object, execution_ms: int, name: object = None
) -> None:
    number = _version(recorded, version, name)
    if number is not None and number in recorded.applied:
        # '0001' and '1' (dbmate keeps text): one version of this app's, twice.
        recorded.problems.append(
            f"{RUNNER_NAMES[recorded.runner]}'s history names version {number} twice "
            f"(as {name or version!r} and another spelling)"
        )
    elif number is not None:
        recorded.applied[number] = (_aware(when), int(execution_ms))


def _aware(value: object) -> datetime.datetime | None:
    """A timestamp as the other table holds it (text on SQLite, naive without a zone)."""
    if isinstance(value, str):
        value = parse_datetime(value.strip().replace(" ", "T", 1))
    if not isinstance(value, datetime.datetime):
        return None
    if timezone.is_naive(value):
        return timezone.make_aware(value, datetime.timezone.utc)
    return value
