"""Django's test runner and pytest-django build their test database from the SQL
migrations, on SQLite and PostgreSQL, and with --keepdb / --reuse-db apply only
what is pending."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    MigrationFiles,
    TargetDatabase,
    copy_backend_migrations,
    drop_postgres_database,
    manage,
    postgres_url_for,
    run_python,
)


@pytest.fixture
def project_migrations(tmp_path: Path) -> MigrationFiles:
    """A copy of backend's SQL migrations that a test can add a file to."""
    return MigrationFiles(copy_backend_migrations(tmp_path / "sql"))


@pytest.fixture
def test_database(
    target: TargetDatabase, tmp_path: Path
) -> Iterator[tuple[TargetDatabase, dict[str, str]]]:
    """The database the test runner will create, and the environment that names it."""
    if target.vendor == "sqlite":
        test_path = tmp_path / "test_db.sqlite3"
        yield (
            TargetDatabase("sqlite", "unused", f"sqlite:///{test_path}", test_path),
            {"SQLMIGRATIONS_TEST_DB_NAME": str(test_path)},
        )
        return
    name = f"test_{target.name}"  # Django's and pytest-django's default test name
    try:
        yield TargetDatabase("postgresql", "unused", postgres_url_for(name)), {}
    finally:
        drop_postgres_database(name)


def applied_at(database: TargetDatabase) -> dict[int, Any]:
    return dict(
        database.query("SELECT version, applied_at FROM schema_migrations ORDER BY version")
    )


def test_manage_py_test_builds_the_test_database_and_keepdb_applies_only_pending(
    target: TargetDatabase,
    test_database: tuple[TargetDatabase, dict[str, str]],
    project_migrations: MigrationFiles,
) -> None:
    test_db, env = test_database
    args = ("test", "tests.runner_cases", "--noinput", "--keepdb", "-v", "2")

    first = manage(*args, database_url=target.url, migrations_dir=project_migrations.path, env=env)

    assert first.code == 0, first.output
    assert "Ran 4 tests" in first.err and "OK" in first.err
    assert "Applying SQL migration 001_initial_schema... OK" in first.output
    assert "Applying SQL migration 002_seed_demo_data... OK" in first.output
    before = applied_at(test_db)
    assert list(before) == [1, 2, 3]

    project_migrations.table(4, "risk_profiles")
    second = manage(*args, database_url=target.url, migrations_dir=project_migrations.path, env=env)

    assert second.code == 0, second.output
    assert "Applying SQL migration 004_create_risk_profiles... OK" in second.output
    assert "001_initial_schema" not in second.output
    after = applied_at(test_db)
    assert list(after) == [1, 2, 3, 4]
    assert after[1] == before[1] and after[2] == before[2]
    # The real database was never touched.
    assert target.tables() == set()


def test_pytest_builds_the_test_database_and_reuse_db_applies_only_pending(
    target: TargetDatabase,
    test_database: tuple[TargetDatabase, dict[str, str]],
    project_migrations: MigrationFiles,
) -> None:
    test_db, env = test_database
    args = ("-m", "pytest", "tests/runner_cases", "--reuse-db", "-p", "no:cacheprovider", "-q")
    env = {**env, "SQLMIGRATIONS_REQUIRE_POSTGRES": "0"}

    first = run_python(
        *args, database_url=target.url, migrations_dir=project_migrations.path, env=env
    )

    assert first.code == 0, first.output
    assert "4 passed" in first.out
    before = applied_at(test_db)
    assert list(before) == [1, 2, 3]

    project_migrations.table(4, "risk_profiles")
    second = run_python(
        *args, database_url=target.url, migrations_dir=project_migrations.path, env=env
    )

    assert second.code == 0, second.output
    after = applied_at(test_db)
    assert list(after) == [1, 2, 3, 4]
    assert after[1] == before[1] and after[2] == before[2]
    assert "risk_profiles" in test_db.user_tables()
    assert target.tables() == set()


def test_migrate_outside_tests_leaves_sql_migrations_alone(
    target: TargetDatabase, project_migrations: MigrationFiles
) -> None:
    result = manage(
        "migrate", "--noinput", database_url=target.url, migrations_dir=project_migrations.path
    )

    assert result.code == 0, result.output
    assert "schema_migrations" in target.tables()
    assert "portfolios" not in target.tables()
    status = manage(
        "sqlmigrate_status", database_url=target.url, migrations_dir=project_migrations.path
    )
    assert "0 applied, 3 pending" in status.out
