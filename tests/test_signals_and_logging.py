"""Signals after each migration, and the sqlmigrations logger, for audit trails."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from sqlmigrations.executor import Executor
from sqlmigrations.signals import migration_applied, migration_reverted
from tests.conftest import MigrationFiles, TargetDatabase


@pytest.fixture
def received() -> Any:
    events: list[tuple[str, dict[str, Any]]] = []

    def on_applied(sender: Any, **kwargs: Any) -> None:
        events.append(("applied", kwargs))

    def on_reverted(sender: Any, **kwargs: Any) -> None:
        events.append(("reverted", kwargs))

    migration_applied.connect(on_applied)
    migration_reverted.connect(on_reverted)
    yield events
    migration_applied.disconnect(on_applied)
    migration_reverted.disconnect(on_reverted)


def test_signals_after_each_migration_applied_and_reverted(
    target: TargetDatabase, migrations: MigrationFiles, received: Any
) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")

    assert target.run("sqlmigrate_up").code == 0
    assert target.run("sqlmigrate_down", "--noinput", "--no-backup").code == 0

    assert [
        (kind, kw["version"], kw["name"], kw["database"], kw["fake"]) for kind, kw in received
    ] == [
        ("applied", 1, "001_create_a", "target", False),
        ("applied", 2, "002_create_b", "target", False),
        ("reverted", 2, "002_create_b", "target", False),
    ]
    assert all(isinstance(kw["duration_ms"], int) and kw["duration_ms"] >= 0 for _, kw in received)
    assert all(
        "signal" in kw and kw["signal"] in (migration_applied, migration_reverted)
        for _, kw in received
    )


def test_no_signal_for_a_failed_migration(
    target: TargetDatabase, migrations: MigrationFiles, received: Any
) -> None:
    migrations.pair("001_bad", "SELECT * FROM nowhere;", "SELECT 1;")

    assert target.run("sqlmigrate_up").code == 1

    assert received == []


def test_every_action_is_logged(
    target: TargetDatabase, migrations: MigrationFiles, caplog: pytest.LogCaptureFixture
) -> None:
    migrations.table(1, "a")
    migrations.pair("002_bad", "SELECT * FROM nowhere;", "SELECT 1;")
    caplog.set_level(logging.INFO, logger="sqlmigrations")

    target.run("sqlmigrate_up")

    messages = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "sqlmigrations"]
    assert messages[0][0] == "INFO"
    assert messages[0][1].startswith("Applied 001_create_a on database 'target' in ")
    assert messages[1] == ("ERROR", "002_bad failed on database 'target'")


def test_python_api_runs_the_same_path(
    target: TargetDatabase, migrations: MigrationFiles, received: Any
) -> None:
    migrations.table(1, "a")

    applied = Executor("target").up()
    states = Executor("target").status()

    assert [m.label for m in applied] == ["001_create_a"]
    assert [(s.version, s.applied) for s in states] == [(1, True)]
    assert received[0][1]["version"] == 1
