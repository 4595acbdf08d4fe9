"""003_portfolio_id_not_null with real rows: SQLite's table rebuild (and PostgreSQL's
no-op) keeps every row of portfolios and of the tables referencing it, up and down,
and the foreign keys still hold afterwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import TargetDatabase
from tests.test_backend_schema import TABLES, schema

OTHER_PORTFOLIO = [
    "INSERT INTO portfolios (id, name, owner_email, base_currency, target_allocation, "
    "drift_threshold_pct, rebalance_frequency) VALUES "
    "('second', 'Second', 'me@example.com', 'EUR', '{\"VTI\": 100}', 7.5, 'weekly')",
    "INSERT INTO rebalance_events (portfolio_id, idempotency_key, trigger, status, "
    "triggered_at) VALUES ('second', 'k-second-1', 'manual', 'pending', '2024-01-01 10:00:00')",
    "INSERT INTO analytics_snapshots (portfolio_id, snapshot_date, total_value) VALUES "
    "('second', '2024-01-01', 1234.56)",
    "INSERT INTO notification_preferences (portfolio_id, channel, event_type, enabled) "
    "VALUES ('second', 'sms', 'drift_alert', false)",
]


@pytest.fixture
def seeded(target: TargetDatabase, settings: Any, backend_migrations: Path) -> TargetDatabase:
    settings.SQLMIGRATIONS_DIRS = [backend_migrations]
    settings.SQLMIGRATIONS_DATABASE_DIRS = {}
    result = target.run("sqlmigrate_up", "--target", "2")
    assert result.code == 0, result.output
    for statement in OTHER_PORTFOLIO:
        target.execute(statement)
    return target


def same_schema(database: TargetDatabase) -> str:
    """The schema; SQLite's ALTER TABLE ... RENAME writes the new name quoted in
    sqlite_master (CREATE TABLE "portfolios"), the same table either way."""
    if database.vendor != "sqlite":
        return schema(database)
    rows = database.query(
        "SELECT type, name, tbl_name, replace(sql, '\"portfolios\"', 'portfolios') "
        "FROM sqlite_master WHERE tbl_name IN "
        "('portfolios', 'rebalance_events', 'analytics_snapshots', 'notification_preferences') "
        "ORDER BY type, name"
    )
    return "\n".join(map(repr, rows))


def all_rows(database: TargetDatabase) -> dict[str, list[tuple[Any, ...]]]:
    return {t: database.query(f"SELECT * FROM {t} ORDER BY 1") for t in TABLES}


def assert_foreign_keys_hold(database: TargetDatabase) -> None:
    """No orphan, and a child naming no portfolio is still refused."""
    orphan = (
        "INSERT INTO notification_preferences (portfolio_id, channel, event_type) "
        "VALUES ('nobody', 'email', 'daily_summary')"
    )
    if database.vendor == "sqlite":
        with sqlite3.connect(database.path) as conn:  # type: ignore[arg-type]
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
            conn.execute("PRAGMA foreign_keys = ON")
            with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
                conn.execute(orphan)
        conn.close()
    else:
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            database.execute(orphan)


def test_the_rebuild_keeps_every_row_up_and_down(seeded: TargetDatabase) -> None:
    before_rows, before_schema = all_rows(seeded), same_schema(seeded)
    assert len(before_rows["portfolios"]) == 2

    up = seeded.run("sqlmigrate_up")
    assert up.code == 0, up.output
    assert seeded.applied() == [1, 2, 3]
    assert all_rows(seeded) == before_rows
    assert_foreign_keys_hold(seeded)

    down = seeded.run("sqlmigrate_down", "--noinput", "--target", "2")
    assert down.code == 0, down.output
    assert all_rows(seeded) == before_rows
    assert same_schema(seeded) == before_schema
    assert_foreign_keys_hold(seeded)

    again = seeded.run("sqlmigrate_up")
    assert again.code == 0, again.output
    assert all_rows(seeded) == before_rows
    assert_foreign_keys_hold(seeded)


def test_a_null_portfolio_id_on_sqlite_stops_003_and_changes_nothing(
    seeded: TargetDatabase,
) -> None:
    if seeded.vendor != "sqlite":
        assert seeded.query("SELECT count(*) FROM portfolios WHERE id IS NULL") == [(0,)]
        return  # PostgreSQL's primary key never held a NULL
    seeded.execute(
        "INSERT INTO portfolios (id, name, owner_email, base_currency) "
        "VALUES (NULL, 'Null', 'n@example.com', 'USD')"
    )
    before_rows, before_schema = all_rows(seeded), same_schema(seeded)

    up = seeded.run("sqlmigrate_up")

    assert up.code == 1, up.output
    assert "NOT NULL constraint failed: portfolios_rebuilt.id" in up.output
    assert seeded.applied() == [1, 2]
    assert all_rows(seeded) == before_rows
    assert same_schema(seeded) == before_schema
