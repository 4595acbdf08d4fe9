"""Error messages tell the truth: the password hidden only where it is a credential."""

from __future__ import annotations

import pytest

from sqlmigrations.errors import mask_secrets
from tests.conftest import MigrationFiles, TargetDatabase, manage

# Password masking ----------------------------------------------------------

ONE_LETTER = {"PASSWORD": "e"}


@pytest.mark.parametrize(
    "message",
    [
        'relation "users" does not exist',
        'column "e" does not exist',
        'syntax error at or near "e"',
        "/tmp/test_e0/migrations/001_create_events.up.sql:3: deferred",
        'FATAL:  password authentication failed for user "deploy"',
        "cannot connect to database 'default' (postgresql e@db.example.com:5432/e)",
    ],
)
def test_a_one_letter_password_leaves_other_words_alone(message: str) -> None:
    assert mask_secrets(message, ONE_LETTER) == message


@pytest.mark.parametrize(
    ("config", "message", "masked"),
    [
        (
            ONE_LETTER,
            "invalid dsn: postgres://deploy:e@db.example.com:5432/app",
            "invalid dsn: postgres://deploy:********@db.example.com:5432/app",
        ),
        (
            # The URL-quoted form, as written in a DATABASE_URL.
            {"PASSWORD": "p@ss word/é"},
            "bad url postgresql://deploy:p%40ss%20word%2F%C3%A9@db:5432/app here",
            "bad url postgresql://deploy:********@db:5432/app here",
        ),
        (
            # The same password quoted with lower-case hex digits: still a credential.
            {"PASSWORD": "p/q"},
            "postgres://deploy:p%2fq@db/app",
            "postgres://deploy:********@db/app",
        ),
        (
            # Characters a URL parser would choke on, echoed as the user wrote them.
            {"PASSWORD": "a b/c"},
            'unexpected spaces found in "postgres://u:a b/c@db/app"',
            'unexpected spaces found in "postgres://u:********@db/app"',
        ),
        (
            ONE_LETTER,
            'invalid connection option "host=db user=deploy password=e dbname=app"',
            'invalid connection option "host=db user=deploy password=******** dbname=app"',
        ),
        (
            {"PASSWORD": "it's a secret"},
            r"missing value in host=db password='it\'s a secret' dbname=app",
            "missing value in host=db password=******** dbname=app",
        ),
        (
            ONE_LETTER,
            "pg_dump: error: PGPASSWORD=e was rejected",
            "pg_dump: error: PGPASSWORD=******** was rejected",
        ),
        (
            ONE_LETTER,
            "postgres://deploy@db/app?sslmode=require&password=e&connect_timeout=5",
            "postgres://deploy@db/app?sslmode=require&password=********&connect_timeout=5",
        ),
        (
            ONE_LETTER,
            "ALTER ROLE deploy LOGIN PASSWORD 'e' failed",
            "ALTER ROLE deploy LOGIN PASSWORD '********' failed",
        ),
        (
            ONE_LETTER,
            "{'USER': 'deploy', 'PASSWORD': 'e', 'HOST': 'db'}",
            "{'USER': 'deploy', 'PASSWORD': '********', 'HOST': 'db'}",
        ),
    ],
)
def test_the_password_is_hidden_where_it_is_a_credential(
    config: dict[str, str], message: str, masked: str
) -> None:
    assert mask_secrets(message, config) == masked


def url_with_password(postgres: TargetDatabase, password: str, database: str = "") -> str:
    # Trust authentication accepts any password: the server never checks it.
    url = postgres.url.replace("postgres@", f"postgres:{password}@")
    return url.rsplit("/", 1)[0] + f"/{database}" if database else url


def test_a_failed_connection_with_a_one_letter_password_reads_intact(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    url = url_with_password(postgres, "e", "no_such_database")

    result = manage("sqlmigrate_up", database_url=url, migrations_dir=migrations.path)

    assert result.code == 1, result.output
    [line] = result.err.strip().splitlines()
    assert line.startswith("CommandError: cannot connect to database 'default' (postgresql ")
    assert 'database "no_such_database" does not exist' in line
    assert "*" not in line


def test_a_failed_migration_with_a_one_letter_password_reads_intact(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "events")
    migrations.pair("002_read", "SELECT * FROM nonexistent_relation;", "SELECT 1;")

    result = manage(
        "sqlmigrate_up",
        database_url=url_with_password(postgres, "e"),
        migrations_dir=migrations.path,
    )

    assert result.code == 1, result.output
    error = result.err[result.err.index("CommandError: ") :]
    assert error.splitlines() == [
        'CommandError: 002_read.up.sql:1: relation "nonexistent_relation" does not exist '
        "(SQLSTATE 42P01)",
        "Applied before the failure: 001_create_events.",
        "Not applied (rolled back or not started): 002_read.",
    ]
