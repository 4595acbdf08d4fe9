"""backend/db/migrations: the portfolio schema and its demo seed, on both databases."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    BACKEND_MIGRATIONS,
    TargetDatabase,
    _register_alias,
    _unregister_alias,
    copy_backend_migrations,
)

TABLES = ["portfolios", "rebalance_events", "analytics_snapshots", "notification_preferences"]
# Columns set by the seed itself; defaults such as created_at = now() differ per run.
SEEDED_COLUMNS = {
    "portfolios": "id, name, owner_email, base_currency, target_allocation, drift_threshold_pct, "
    "rebalance_frequency, created_at, updated_at",
    "rebalance_events": "id, portfolio_id, idempotency_key, trigger, status, trades, "
    "drift_before_pct, triggered_at, completed_at, failure_reason",
    "analytics_snapshots": "id, portfolio_id, snapshot_date, total_value, daily_return_pct, "
    "cumulative_return_pct, allocation",
    "notification_preferences": "id, portfolio_id, channel, event_type, enabled",
}


@pytest.fixture
def backend(target: TargetDatabase, settings: Any, backend_migrations: Path) -> TargetDatabase:
    settings.SQLMIGRATIONS_DIRS = [backend_migrations]
    settings.SQLMIGRATIONS_DATABASE_DIRS = {}
    return target


def schema(database: TargetDatabase) -> str:
    if database.vendor == "sqlite":
        rows = database.query(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT IN ('schema_migrations', 'django_migrations', 'sqlite_sequence') "
            "AND tbl_name NOT IN ('schema_migrations', 'django_migrations') ORDER BY type, name"
        )
        return "\n".join(map(repr, rows))
    dump = subprocess.run(
        [
            "pg_dump",
            "--schema-only",
            "--no-owner",
            "--exclude-table=schema_migrations",
            "--exclude-table=django_migrations*",
            database.url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # pg_dump 15.14+ prints a random \restrict token; comments carry nothing to compare.
    return "\n".join(
        line
        for line in dump.splitlines()
        if not line.startswith(("\\restrict", "\\unrestrict", "--"))
    )


def rows(database: TargetDatabase) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: database.query(f"SELECT {SEEDED_COLUMNS[table]} FROM {table} ORDER BY id")
        for table in TABLES
    }


def run_file_by_hand(database: TargetDatabase, name: str) -> None:
    """Run a migration's SQL outside the runner, as someone with psql or sqlite3 would."""
    path = BACKEND_MIGRATIONS / name
    if database.vendor == "postgresql":
        subprocess.run(
            ["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(path), database.url],
            check=True,
            capture_output=True,
        )
    else:
        conn = sqlite3.connect(database.path)  # type: ignore[arg-type]
        conn.executescript(path.read_text())
        conn.close()


def test_creates_the_four_tables_and_the_demo_portfolio(backend: TargetDatabase) -> None:
    result = backend.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert backend.user_tables() == set(TABLES)
    assert backend.query("SELECT id, base_currency FROM portfolios") == [
        ("demo-portfolio-1", "USD")
    ]
    assert backend.query("SELECT count(*) FROM rebalance_events") == [(4,)]


def test_up_down_up_gives_an_identical_schema_and_demo_rows(backend: TargetDatabase) -> None:
    assert backend.run("sqlmigrate_up").code == 0
    first_schema, first_rows = schema(backend), rows(backend)

    down = backend.run("sqlmigrate_down", "--noinput", "--target", "0")
    assert down.code == 0, down.output
    assert backend.user_tables() == set()
    assert backend.run("sqlmigrate_up").code == 0

    assert schema(backend) == first_schema
    assert rows(backend) == first_rows
    assert all(table in first_schema for table in TABLES)


def test_seed_run_again_by_hand_changes_nothing(backend: TargetDatabase) -> None:
    assert backend.run("sqlmigrate_up").code == 0
    before = rows(backend)

    run_file_by_hand(backend, "002_seed_demo_data.up.sql")

    assert rows(backend) == before


def test_rolling_back_the_seed_leaves_other_portfolios_untouched(backend: TargetDatabase) -> None:
    assert backend.run("sqlmigrate_up").code == 0
    backend.execute(
        "INSERT INTO portfolios (id, name, owner_email, base_currency) "
        "VALUES ('client-7', 'Client seven', 'c7@example.com', 'EUR')"
    )
    backend.execute(
        "INSERT INTO rebalance_events (portfolio_id, idempotency_key, trigger, status, triggered_at) "
        "VALUES ('client-7', 'c7-first', 'manual', 'pending', '2026-04-01 10:00:00+00')"
    )
    backend.execute(
        "INSERT INTO notification_preferences (portfolio_id, channel, event_type) "
        "VALUES ('client-7', 'email', 'drift_alert')"
    )

    result = backend.run("sqlmigrate_down", "--noinput", "--target", "1")

    assert result.code == 0, result.output
    assert backend.applied() == [1]
    assert backend.query("SELECT id FROM portfolios") == [("client-7",)]
    assert backend.query("SELECT idempotency_key FROM rebalance_events") == [("c7-first",)]
    assert backend.query("SELECT portfolio_id FROM notification_preferences") == [("client-7",)]
    assert backend.query("SELECT count(*) FROM analytics_snapshots") == [(0,)]


def test_rolling_back_the_schema_drops_every_table(backend: TargetDatabase) -> None:
    assert backend.run("sqlmigrate_up").code == 0

    result = backend.run("sqlmigrate_down", "--noinput", "--target", "0")

    assert result.code == 0, result.output
    assert backend.user_tables() == set()
    assert backend.applied() == []


@pytest.mark.parametrize(
    ("statement", "violates"),
    [
        (
            "INSERT INTO portfolios (id, name, owner_email, base_currency) VALUES ('p', 'n', 'a@b', 'usd')",
            "currency",
        ),
        (
            "INSERT INTO portfolios (id, name, owner_email, base_currency) VALUES ('Bad Id', 'n', 'a@b', 'USD')",
            "id",
        ),
        (
            "INSERT INTO portfolios (id, name, owner_email, base_currency) VALUES (NULL, 'n', 'a@b', 'USD')",
            "id not null",
        ),
        (
            "INSERT INTO portfolios (id, name, owner_email, base_currency, target_allocation) "
            "VALUES ('p', 'n', 'a@b', 'USD', '[1]')",
            "allocation",
        ),
        (
            "INSERT INTO notification_preferences (portfolio_id, channel, event_type) "
            "VALUES ('demo-portfolio-1', 'fax', 'drift_alert')",
            "channel",
        ),
        (
            "INSERT INTO notification_preferences (portfolio_id, channel, event_type) "
            "VALUES ('demo-portfolio-1', 'email', 'rebalance_completed')",
            "unique",
        ),
        (
            "INSERT INTO rebalance_events (portfolio_id, idempotency_key, trigger, status, triggered_at) "
            "VALUES ('nobody', 'k', 'manual', 'pending', '2026-01-01 00:00:00+00')",
            "foreign key",
        ),
        (
            "INSERT INTO rebalance_events (portfolio_id, idempotency_key, trigger, status, triggered_at) "
            "VALUES ('demo-portfolio-1', 'k', 'manual', 'failed', '2026-01-01 00:00:00+00')",
            "failure reason",
        ),
    ],
)
def test_constraints_hold_on_both_databases(
    backend: TargetDatabase, statement: str, violates: str
) -> None:
    assert backend.run("sqlmigrate_up").code == 0

    with pytest.raises(Exception) as caught:
        if backend.vendor == "sqlite":
            conn = sqlite3.connect(backend.path)  # type: ignore[arg-type]
            conn.execute("PRAGMA foreign_keys = ON")
            try:
                conn.execute(statement)
            finally:
                conn.close()
        else:
            backend.execute(statement)

    assert re.search(r"constraint|violates|CHECK|UNIQUE|FOREIGN", str(caught.value), re.I), violates


def test_skipping_the_seed_by_setting_leaves_it_out_for_good(
    backend: TargetDatabase, settings: Any
) -> None:
    settings.SQLMIGRATIONS_SKIP_VERSIONS = {"target": [2]}

    result = backend.run("sqlmigrate_up")
    status = backend.run("sqlmigrate_status")

    assert result.code == 0, result.output
    assert backend.applied() == [1, 3]
    assert backend.query("SELECT count(*) FROM portfolios") == [(0,)]
    assert re.search(
        r"^ \[-\] 002_seed_demo_data +skipped \(SQLMIGRATIONS_SKIP_VERSIONS\)$", status.out, re.M
    )
    assert "2 applied, 0 pending, 0 with problems, 1 skipped by settings." in status.out


# ---------------------------------------------------------------------------
# Schema fidelity: 001 on PostgreSQL, its SQLite variant, and the unmanaged models agree
# on every column's name, type (each vendor's spelling mapped to one word) and nullability.

PG_TYPES = {
    "text": "text",
    "character": "char({length})",
    "jsonb": "json",
    "numeric": "decimal({precision},{scale})",
    "timestamp with time zone": "datetime",
    "date": "date",
    "bigint": "bigint",
    "boolean": "bool",
}
MODEL_TYPES = {
    "TextField": "text",
    "CharField": "char({length})",
    "JSONField": "json",
    "DecimalField": "decimal({precision},{scale})",
    "DateTimeField": "datetime",
    "DateField": "date",
    "BigAutoField": "bigint",
    "BooleanField": "bool",
}
Columns = dict[str, tuple[str, bool]]  # "table.column" -> (type, nullable)


def postgresql_columns(database: TargetDatabase) -> Columns:
    rows = database.query(
        "SELECT table_name, column_name, data_type, character_maximum_length, "
        "numeric_precision, numeric_scale, is_nullable FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        (TABLES,),
    )
    return {
        f"{table}.{column}": (
            PG_TYPES.get(kind, f"? {kind}").format(length=length, precision=precision, scale=scale),
            nullable == "YES",
        )
        for table, column, kind, length, precision, scale, nullable in rows
    }


def sqlite_columns(database: TargetDatabase) -> Columns:
    """Declared types; text that a CHECK holds to json_valid() is JSON. A NULL fits any
    column without NOT NULL, a PRIMARY KEY too, except an INTEGER one (the rowid)."""
    columns: Columns = {}
    for table in TABLES:
        [(sql,)] = database.query("SELECT sql FROM sqlite_master WHERE name = %s", (table,))
        for _, column, declared, notnull, _, pk in database.query(f"PRAGMA table_info({table})"):
            kind = re.sub(r"\s+", "", declared.lower())
            if kind == "text" and f"json_valid({column})" in sql:
                kind = "json"
            elif kind == "integer" and pk:
                kind = "bigint"  # SQLite integers are 64-bit
            columns[f"{table}.{column}"] = (kind, not notnull and not (pk and kind == "bigint"))
    return columns


def model_columns() -> Columns:
    from django.apps import apps

    columns: Columns = {}
    for model in apps.get_app_config("backend").get_models():
        if model._meta.managed:
            continue  # Django's own tables (API tokens), not the SQL files'
        assert model._meta.db_table in TABLES, model
        for field in model._meta.concrete_fields:
            typed = field.target_field if field.is_relation else field
            kind = MODEL_TYPES.get(typed.get_internal_type(), f"? {typed.get_internal_type()}")
            columns[f"{model._meta.db_table}.{field.column}"] = (
                kind.format(
                    length=getattr(typed, "max_length", None),
                    precision=getattr(typed, "max_digits", None),
                    scale=getattr(typed, "decimal_places", None),
                ),
                field.null,
            )
    return columns


def differences(**sources: Columns) -> list[str]:
    names = sorted(set().union(*sources.values()))
    lines = []
    for name in names:
        seen = {source: columns.get(name, ("absent", None)) for source, columns in sources.items()}
        if len(set(seen.values())) > 1:
            lines.append(f"{name}: " + ", ".join(f"{s}={v}" for s, v in seen.items()))
    return lines


def test_postgresql_sqlite_and_the_models_have_the_same_columns(
    postgres: TargetDatabase, settings: Any, tmp_path: Any
) -> None:
    settings.SQLMIGRATIONS_DIRS = [copy_backend_migrations(tmp_path / "migrations")]
    settings.SQLMIGRATIONS_DATABASE_DIRS = {}
    path = tmp_path / "fidelity.sqlite3"
    sqlite = TargetDatabase("sqlite", "fidelity_sqlite", f"sqlite:///{path}", path)
    _register_alias(sqlite.alias, sqlite.url)
    try:
        assert postgres.run("sqlmigrate_up").code == 0
        assert sqlite.run("sqlmigrate_up").code == 0
        postgresql, on_sqlite = postgresql_columns(postgres), sqlite_columns(sqlite)
    finally:
        _unregister_alias(sqlite.alias)
    models = model_columns()

    assert len(postgresql) == 34  # the comparison saw every column of the four tables
    assert differences(postgresql=postgresql, sqlite=on_sqlite, models=models) == []
