"""--database runs one alias's own files against its own database only."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import MigrationFiles, TargetDatabase, manage


def test_each_alias_has_its_own_files_and_history(
    target: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    migrations.table(1, "orders")
    reports_files = MigrationFiles(tmp_path / "reports_sql")
    reports_files.table(1, "daily_totals")
    reports_files.table(2, "monthly_totals")
    reports_db = TargetDatabase("sqlite", "reports", "", tmp_path / "reports.sqlite3")
    env = {
        "REPORTS_DATABASE_URL": f"sqlite:///{reports_db.path}",
        "REPORTS_MIGRATION_DIRS": str(reports_files.path),
    }

    def run(*args: str) -> str:
        result = manage(*args, database_url=target.url, migrations_dir=migrations.path, env=env)
        assert result.code == 0, result.output
        return result.out

    reports_up = run("sqlmigrate_up", "--database", "reports")
    status_default = run("sqlmigrate_status")

    assert "Applying 002_create_monthly_totals... OK" in reports_up
    assert reports_db.user_tables() == {"daily_totals", "monthly_totals"}
    assert reports_db.applied() == [1, 2]
    assert target.tables() == set()  # the default database was not touched
    assert " [ ] 001_create_orders  pending" in status_default

    run("sqlmigrate_up")
    assert target.user_tables() == {"orders"}
    assert reports_db.applied() == [1, 2]
