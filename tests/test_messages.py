"""Error messages tell the truth: the password hidden only where it is a credential, the
summary of a failed run right in both directions, and the server's DETAIL and HINT."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from sqlmigrations.errors import mask_secrets
from tests.conftest import REPO, MigrationFiles, TargetDatabase, manage, sqlite_code, wait_for_query

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


# The summary of a failed run -----------------------------------------------


def test_a_failed_down_run_says_what_is_still_applied(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.pair("002_b", "CREATE TABLE b (id integer);", "DROP TABLE no_such_table;")
    migrations.table(3, "c")
    assert target.run("sqlmigrate_up").code == 0

    result = target.run("sqlmigrate_down", "--noinput", "--no-backup", "--target", "0")

    assert result.code == 1, result.output
    lines = result.err.splitlines()
    assert lines[0].startswith("002_b.down.sql:1: ")
    assert lines[1:] == [
        "Rolled back before the failure: 003_create_c.",
        "Still applied (its down file failed and was undone, or did not run): 002_b, 001_create_a.",
    ]
    assert target.applied() == [1, 2]
    assert target.user_tables() == {"a", "b"}


def test_a_failed_up_run_says_what_is_not_applied(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.pair("002_b", "SELECT * FROM no_such_table;", "SELECT 1;")
    migrations.table(3, "c")

    result = target.run("sqlmigrate_up")

    assert result.code == 1, result.output
    assert result.err.splitlines()[1:] == [
        "Applied before the failure: 001_create_a.",
        "Not applied (rolled back or not started): 002_b, 003_create_c.",
    ]
    assert target.applied() == [1]


def test_ctrl_c_during_a_down_run_says_the_migration_is_still_applied(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.pair("002_slow", "CREATE TABLE slow (id integer);", "SELECT pg_sleep(30);")
    migrations.table(3, "c")
    assert postgres.run("sqlmigrate_up").code == 0
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tests.subprocess_settings",
        "SQLMIGRATIONS_TEST_DIRS": str(migrations.path),
        "DATABASE_URL": postgres.url,
        "PYTHONPATH": str(REPO),
    }
    command = ["sqlmigrate_down", "--no-color", "--noinput", "--no-backup", "--target", "0"]
    proc = subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_query(postgres, "pg_sleep(30)")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 130, out + err
    assert (
        "interrupted during 002_slow, whose down file was undone: it is still applied. "
        "Rolled back before the interruption: 003_create_c." in err
    )
    assert "Traceback" not in err
    assert postgres.applied() == [1, 2]


# Hints and the server's DETAIL / HINT ----------------------------------------

NO_TRANSACTION_HINT = (
    "  HINT: this statement cannot run inside a transaction: put "
    "'-- sqlmigrate: no-transaction' on the file's first line to run the file outside one."
)


def test_a_statement_that_refuses_a_transaction_names_the_directive(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    if target.vendor == "postgresql":
        statement, first = (
            "CREATE INDEX CONCURRENTLY a_id ON a (id);",
            "CREATE INDEX CONCURRENTLY cannot run inside a transaction block (SQLSTATE 25001)",
        )
    else:
        statement = "VACUUM;"
        first = f"cannot VACUUM from within a transaction{sqlite_code('SQLITE_ERROR')}"
    migrations.table(1, "a")
    migrations.pair("002_tidy", f"SELECT 1;\n{statement}\n", "SELECT 1;")

    result = target.run("sqlmigrate_up")

    assert result.code == 1, result.output
    assert result.err.splitlines() == [
        f"002_tidy.up.sql:2: {first}",
        NO_TRANSACTION_HINT,
        "Applied before the failure: 001_create_a.",
        "Not applied (rolled back or not started): 002_tidy.",
    ]
    # Following the hint works.
    migrations.write("002_tidy.up.sql", f"-- sqlmigrate: no-transaction\nSELECT 1;\n{statement}\n")
    assert target.run("sqlmigrate_up").code == 0
    assert target.applied() == [1, 2]


def test_a_server_detail_follows_the_first_line_on_its_own(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_users",
        "CREATE TABLE users (id integer PRIMARY KEY);\n"
        "INSERT INTO users VALUES (1);\n"
        "INSERT INTO users\n  VALUES (1);\n",
        "DROP TABLE users;",
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 1, result.output
    if target.vendor == "postgresql":
        error = [
            '001_users.up.sql:3: duplicate key value violates unique constraint "users_pkey" '
            "(SQLSTATE 23505)",
            "  DETAIL: Key (id)=(1) already exists.",
        ]
    else:  # SQLite has no DETAIL or HINT
        code = sqlite_code("SQLITE_CONSTRAINT_PRIMARYKEY")
        error = [f"001_users.up.sql:3: UNIQUE constraint failed: users.id{code}"]
    assert result.err.splitlines() == [
        *error,
        "Applied before the failure: none.",
        "Not applied (rolled back or not started): 001_users.",
    ]


def test_a_server_hint_follows_the_first_line_on_its_own(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("001_call", "SELECT 1;\nSELECT\n  lower(42);\n", "SELECT 1;")

    result = postgres.run("sqlmigrate_up")

    assert result.code == 1, result.output
    assert result.err.splitlines() == [
        "001_call.up.sql:3: function lower(integer) does not exist (SQLSTATE 42883)",
        "  HINT: No function matches the given name and argument types. "
        "You might need to add explicit type casts.",
        "Applied before the failure: none.",
        "Not applied (rolled back or not started): 001_call.",
    ]


def test_detail_and_hint_come_in_that_order_on_a_failed_down(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_parent",
        "CREATE TABLE parent (id integer PRIMARY KEY);\nINSERT INTO parent VALUES (1);",
        "DROP TABLE parent;",
    )
    migrations.pair(
        "002_child",
        "CREATE TABLE child (parent_id integer REFERENCES parent);\nINSERT INTO child VALUES (1);",
        "SELECT 1;",
    )
    assert postgres.run("sqlmigrate_up").code == 0

    result = postgres.run("sqlmigrate_down", "--noinput", "--no-backup", "--target", "0")

    assert result.code == 1, result.output
    lines = result.err.splitlines()
    assert lines[0] == (
        "001_parent.down.sql:1: cannot drop table parent because other objects depend on it "
        "(SQLSTATE 2BP01)"
    )
    assert (
        lines[1]
        == "  DETAIL: constraint child_parent_id_fkey on table child depends on table parent"
    )
    assert lines[2] == "  HINT: Use DROP ... CASCADE to drop the dependent objects too."
    assert lines[3:] == [
        "Rolled back before the failure: 002_child.",
        "Still applied (its down file failed and was undone, or did not run): 001_parent.",
    ]
    assert postgres.applied() == [1]


def test_no_hint_for_a_file_that_already_runs_outside_a_transaction(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    # The file opens a transaction itself: the directive is there, so the hint
    # would send the reader in a circle.
    statement = (
        "CREATE INDEX CONCURRENTLY a_id ON a (id);" if target.vendor == "postgresql" else "VACUUM;"
    )
    migrations.table(1, "a")
    migrations.pair(
        "002_tidy",
        f"-- sqlmigrate: no-transaction\nBEGIN;\n{statement}\nCOMMIT;\n",
        "SELECT 1;",
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 1, result.output
    assert result.err.startswith("002_tidy.up.sql:3: ")
    assert "HINT" not in result.err
