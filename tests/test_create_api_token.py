"""create_api_token on a database where Django's own migrate has not run yet (the
README's order skipped, or the wrong DATABASE_URL): one line saying what to do."""

from __future__ import annotations

from tests.conftest import TargetDatabase, manage


def test_before_djangos_migrate_it_says_to_run_migrate_without_a_traceback(
    target: TargetDatabase,
) -> None:
    result = manage("create_api_token", "admin", database_url=target.url, env={"DJANGO_DEBUG": "1"})

    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    assert result.out == ""
    assert result.err.count("\n") <= 1, result.err
    assert result.err.startswith("CommandError: ")
    assert "python manage.py migrate" in result.err
    assert "backend_api_tokens" not in target.tables()
