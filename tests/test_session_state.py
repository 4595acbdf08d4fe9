"""One migration's session state never changes another's outcome.

A plain SET (search_path, role, timeouts, DateStyle, ...) lasts for the rest of
a session, so without care the same files give a different schema depending on
how runs are split. Every migration must start from the state the runner
connected with, the history row must land in the runner's own table, and the
statement boundaries the runner checks must be the ones the server executes,
whatever standard_conforming_strings the file, the role or the database sets.
Mostly PostgreSQL; temporary tables and connection PRAGMAs are SQLite's share.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections, transaction

from sqlmigrations.errors import MigrationFailed
from sqlmigrations.executor import Executor
from tests.conftest import (
    POSTGRES_URL,
    MigrationFiles,
    TargetDatabase,
    _register_alias,
    _unregister_alias,
    create_postgres_database,
    drop_postgres_database,
    pg_connection,
    pg_execute,
    postgres_url_for,
)

# What a migration sees when it starts; inserted first thing by each migration.
PROBE_COLUMNS = (
    "version integer, search_path text, current_user_ text, session_user_ text, "
    "statement_timeout text, lock_timeout text, timezone text, datestyle text, "
    "tenant text, client_encoding text, scs text, temp_tables bigint, prepared bigint"
)


def probe(version: int) -> str:
    return (
        f"INSERT INTO public.probe SELECT {version}, current_setting('search_path'), "
        "current_user, session_user, current_setting('statement_timeout'), "
        "current_setting('lock_timeout'), current_setting('TimeZone'), "
        "current_setting('DateStyle'), "
        # A custom setting PostgreSQL has seen once reads '' after RESET, never
        # missing again: both mean "not set".
        "coalesce(nullif(current_setting('myapp.tenant', true), ''), '-'), "
        "current_setting('client_encoding'), current_setting('standard_conforming_strings'), "
        "(SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()), "
        "(SELECT count(*) FROM pg_prepared_statements WHERE from_sql);\n"
    )


# The schema as the catalog holds it, in a stable order.
CATALOG = {
    "schemas": """
        SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace
        WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1""",
    "relations": """
        SELECT n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
        ORDER BY 1, 2""",
    "columns": """
        SELECT table_schema, table_name, column_name, data_type, column_default, is_nullable
        FROM information_schema.columns
        WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
        ORDER BY 1, 2, ordinal_position""",
    "indexes": """
        SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes
        WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3""",
    "constraints": """
        SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3""",
}


def catalog(database: TargetDatabase) -> dict[str, list[tuple[Any, ...]]]:
    snapshot = {name: database.query(sql) for name, sql in CATALOG.items()}
    snapshot["probe"] = database.query("SELECT * FROM public.probe ORDER BY version")
    snapshot["history"] = database.query(
        "SELECT version, name, checksum FROM public.schema_migrations ORDER BY 1"
    )
    return snapshot


def new_role_name() -> str:
    return f"sqlm_role_{uuid.uuid4().hex[:10]}"


def drop_role(name: str, *databases: TargetDatabase) -> None:
    for database in databases:
        with pg_connection(database.url) as conn:
            pg_execute(conn, f'REASSIGN OWNED BY "{name}" TO postgres')
            pg_execute(conn, f'DROP OWNED BY "{name}"')
    with pg_connection(POSTGRES_URL) as conn:
        pg_execute(conn, f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture
def role(postgres: TargetDatabase) -> Iterator[str]:
    """A login role that owns the test database (so it may create anything in it)."""
    name = new_role_name()
    postgres.execute(f'CREATE ROLE "{name}" LOGIN')
    postgres.execute(f'ALTER DATABASE "{postgres.name}" OWNER TO "{name}"')
    postgres.execute(f'GRANT ALL ON SCHEMA public TO "{name}"')
    try:
        yield name
    finally:
        drop_role(name, postgres)


@pytest.fixture
def second_postgres(role: str) -> Iterator[TargetDatabase]:
    """Another fresh database (alias 'target2'), dropped before ``role`` is."""
    name = create_postgres_database()
    database = TargetDatabase("postgresql", "target2", postgres_url_for(name))
    _register_alias("target2", database.url)
    try:
        yield database
    finally:
        _unregister_alias("target2")
        drop_postgres_database(name)  # with whatever the role owns in it


def connect_as(database: TargetDatabase, user: str) -> None:
    """Make the runner (alias of ``database``) log in as ``user``."""
    connections[database.alias].close()
    connections.settings[database.alias]["USER"] = user


def hostile_set(migrations: MigrationFiles, role: str) -> None:
    """Files that change every kind of session state, and later files it would change."""
    migrations.pair(
        "001_start",
        f"CREATE TABLE public.probe ({PROBE_COLUMNS});\n"
        "GRANT ALL ON public.probe TO PUBLIC;\n" + probe(1) + "CREATE SCHEMA app;\n"
        f'GRANT ALL ON SCHEMA app, public TO "{role}";\n'
        "CREATE TABLE public.a (id integer PRIMARY KEY);\n"
        f'GRANT ALL ON public.a TO "{role}";\n'
        "CREATE TEMP TABLE a (id integer PRIMARY KEY);\n"  # hides public.a while it lasts
        "PREPARE probe_statement AS SELECT 1;\n"
        "SET search_path TO app, public;\n"
        f'SET ROLE "{role}";\n'
        "SET statement_timeout = '50ms';\n"
        "SET lock_timeout = '10ms';\n"
        "SET TIME ZONE 'America/New_York';\n"
        "SET DateStyle = 'SQL, DMY';\n"
        "SET myapp.tenant = 'acme';\n"
        "SET client_encoding = 'LATIN1';\n",
        "DROP TABLE public.probe, public.a;\nDROP SCHEMA app;\n",
    )
    migrations.pair(
        "002_b",
        probe(2) + "SELECT pg_sleep(0.2);\n"  # longer than the 50ms timeout 001 set
        "INSERT INTO a VALUES (1);\n"  # the real table, not 001's temporary one
        "CREATE TABLE b (id integer PRIMARY KEY, a_id integer REFERENCES a (id), "
        "note text DEFAULT '日本');\n"  # not encodable in the LATIN1 001 set
        "CREATE INDEX b_a_id ON b (a_id);\n"
        "PREPARE probe_statement AS SELECT 2;\n"
        f'SET SESSION AUTHORIZATION "{role}";\n'
        "SET search_path TO app;\n",
        "DROP TABLE b;\n",
    )
    migrations.pair(
        "003_c",
        probe(3)
        # Day/month order follows DateStyle.
        + "CREATE TABLE c (id integer, starts date DEFAULT '01/02/2026');\n"
        "CREATE SEQUENCE c_numbers;\n",
        "DROP TABLE c;\nDROP SEQUENCE c_numbers;\n",
    )


# ---------------------------------------------------------------------------
# Each migration starts from the state the runner connected with


@pytest.mark.parametrize("apart_by", ["commands", "python"])
def test_one_run_and_one_run_per_migration_give_the_same_schema(
    postgres: TargetDatabase,
    role: str,
    second_postgres: TargetDatabase,
    migrations: MigrationFiles,
    apart_by: str,
) -> None:
    # "python": the runs share one connection, as a deploy script's would.
    hostile_set(migrations, role)

    result = postgres.run("sqlmigrate_up")
    assert result.code == 0, result.output
    for version in (1, 2, 3):
        if apart_by == "commands":
            step = second_postgres.run("sqlmigrate_up", "--target", str(version))
            assert step.code == 0, step.output
        else:
            applied = Executor(second_postgres.alias).up(target=version)
            assert [m.version for m in applied] == [version]
    connections[second_postgres.alias].close()

    together, apart = catalog(postgres), catalog(second_postgres)
    assert together == apart
    # And every migration saw the state the runner connected with.
    started = {row[1:] for row in together["probe"]}
    # lock_timeout: the runner's own per-attempt limit (SQLMIGRATIONS_STATEMENT_LOCK_TIMEOUT).
    connected = ('"$user", public', "postgres", "postgres", "0", "5s", "UTC", "ISO, MDY")
    assert started == {(*connected, "-", "UTF8", "on", 0, 0)}
    assert ("public", "b", "r", "postgres") in together["relations"]
    assert postgres.query("SELECT id FROM public.a") == [(1,)]


def test_search_path_of_one_migration_does_not_move_the_next_ones_tables(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # The issue's own example: in one run 002's table would land in app.
    migrations.pair(
        "001_app",
        "CREATE SCHEMA app;\nSET search_path TO app, public;\n",
        "DROP SCHEMA app;\n",
    )
    migrations.table(2, "widgets")

    result = postgres.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert postgres.query("SELECT schemaname FROM pg_tables WHERE tablename = 'widgets'") == [
        ("public",)
    ]


def test_the_history_is_written_in_its_own_schema_whatever_search_path_a_file_sets(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # search_path without public: the history row used to fail with no line.
    migrations.pair(
        "001_app_only",
        "CREATE SCHEMA app;\n"
        "CREATE TABLE app.schema_migrations (version bigint);\n"  # a decoy
        "SET search_path TO app;\n",
        "SET search_path TO app;\nDROP TABLE app.schema_migrations;\nDROP SCHEMA app;\n",
    )
    migrations.table(2, "widgets")

    assert postgres.run("sqlmigrate_up").code == 0
    assert postgres.applied() == [1, 2]
    assert postgres.query("SELECT count(*) FROM app.schema_migrations") == [(0,)]
    status = postgres.run("sqlmigrate_status")
    assert status.code == 0, status.output

    down = postgres.run("sqlmigrate_down", "--target", "0", "--no-backup", "--noinput")
    assert down.code == 0, down.output
    assert postgres.applied() == []
    assert postgres.query("SELECT count(*) FROM pg_namespace WHERE nspname = 'app'") == [(0,)]


def test_a_history_table_outside_public_is_found_and_kept(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # The runner connects with search_path ops, public: its history lives in ops.
    postgres.execute("CREATE SCHEMA ops")
    postgres.execute(f'ALTER DATABASE "{postgres.name}" SET search_path TO ops, public')
    migrations.pair(
        "001_public", "SET search_path TO public;\nCREATE TABLE a (id integer);\n", "DROP TABLE a;"
    )
    migrations.pair("002_b", "CREATE TABLE b (id integer);\n", "DROP TABLE b;\n")

    result = postgres.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert postgres.query("SELECT version FROM ops.schema_migrations ORDER BY 1") == [(1,), (2,)]
    tables = "SELECT schemaname, tablename FROM pg_tables WHERE tablename IN ('a', 'b') ORDER BY 2"
    assert postgres.query(tables) == [("public", "a"), ("ops", "b")]


def test_djangos_own_connection_setup_is_what_each_migration_starts_from(
    postgres: TargetDatabase, role: str, migrations: MigrationFiles
) -> None:
    # Django sets the time zone (the database's differs) and assumes a role
    # (OPTIONS assume_role) after connecting: RESET would lose both.
    postgres.execute(f"ALTER DATABASE \"{postgres.name}\" SET timezone TO 'Asia/Tokyo'")
    connections.settings[postgres.alias]["OPTIONS"] = {"assume_role": role}
    seen = (
        "INSERT INTO public.seen SELECT {v}, current_user, session_user, "
        "current_setting('TimeZone');\n"
    )
    migrations.pair(
        "001_seen",
        "CREATE TABLE public.seen (version integer, current_user_ text, session_user_ text, "
        "timezone text);\n"
        + seen.format(v=1)
        + "RESET ROLE;\nRESET ALL;\nSET TIME ZONE 'America/New_York';\n",
        "DROP TABLE public.seen;\n",
    )
    migrations.pair("002_more", seen.format(v=2) + "RESET ROLE;\n", "SELECT 1;\n")
    migrations.pair("003_more", seen.format(v=3), "SELECT 1;\n")

    result = postgres.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert postgres.query("SELECT * FROM public.seen ORDER BY 1") == [
        (1, role, "postgres", "UTC"),
        (2, role, "postgres", "UTC"),
        (3, role, "postgres", "UTC"),
    ]
    assert postgres.query("SELECT tableowner FROM pg_tables WHERE tablename = 'seen'") == [(role,)]


def test_the_python_api_gets_its_connection_back_as_it_gave_it(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # The caller's connection lives on after up(): its next ORM read (dates
    # included) must not run under a file's DateStyle, search_path or timeout.
    migrations.pair(
        "001_settings",
        "CREATE SCHEMA app;\n"
        "SET search_path TO app;\n"
        "SET DateStyle = 'German';\n"
        "SET IntervalStyle = 'sql_standard';\n"
        "SET statement_timeout = '1ms';\n",
        "DROP SCHEMA app;\n",
    )
    connection = connections[postgres.alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET application_name = 'caller'")
            cursor.execute("SELECT name, setting FROM pg_settings ORDER BY name")
            before = cursor.fetchall()

        Executor(postgres.alias).up()
        states = Executor(postgres.alias).status()

        with connection.cursor() as cursor:
            cursor.execute("SELECT name, setting FROM pg_settings ORDER BY name")
            after = cursor.fetchall()
    finally:
        connection.close()
    assert [s.version for s in states if s.applied] == [1]
    assert states[0].record is not None and states[0].record.applied_at is not None
    assert dict(after) == dict(before)


def test_inside_a_callers_repeatable_read_transaction_migrations_run(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # The caller's transaction-level settings are the transaction's, not the
    # session's: setting them again after its first query would fail.
    migrations.pair("001_app", "CREATE SCHEMA app;\nSET search_path TO app;\n", "SELECT 1;\n")
    migrations.table(2, "widgets")
    connection = connections[postgres.alias]
    try:
        with transaction.atomic(using=postgres.alias):
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            applied = Executor(postgres.alias).up()
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('search_path')")
                [(search_path,)] = cursor.fetchall()
    finally:
        connection.close()
    assert [m.version for m in applied] == [1, 2]
    assert search_path == '"$user", public'
    assert postgres.query("SELECT schemaname FROM pg_tables WHERE tablename = 'widgets'") == [
        ("public",)
    ]


def test_a_failed_no_transaction_migration_leaves_no_setting_behind(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_fails",
        "-- sqlmigrate: no-transaction\nSET search_path TO nowhere;\nSELECT * FROM missing;\n",
        "SELECT 1;\n",
    )
    connection = connections[postgres.alias]
    try:
        with pytest.raises(MigrationFailed):
            Executor(postgres.alias).up()
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('search_path')")
            [(search_path,)] = cursor.fetchall()
    finally:
        connection.close()
    assert search_path == '"$user", public'


def test_temporary_tables_and_prepared_statements_do_not_outlive_their_migration(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_temp",
        "CREATE TABLE widgets (id integer);\n"
        "CREATE TEMP TABLE widgets (id integer);\n"
        "PREPARE add_widget AS INSERT INTO widgets VALUES (1);\n",
        "DROP TABLE widgets;\n",
    )
    migrations.pair(
        "002_insert",
        "PREPARE add_widget AS INSERT INTO widgets VALUES (2);\nEXECUTE add_widget;\n",
        "DELETE FROM widgets;\n",
    )

    result = postgres.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert postgres.query("SELECT id FROM public.widgets") == [(2,)]


def test_a_temporary_table_does_not_hide_the_real_one_from_later_migrations(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    # Both databases look for an unqualified name among temporary tables first.
    migrations.pair(
        "001_temp",
        "CREATE TABLE widgets (id integer);\n"
        "CREATE TEMP TABLE widgets (id integer);\n"
        "CREATE TEMP VIEW gadgets AS SELECT 1 AS id;\n",
        "DROP TABLE widgets;\n",
    )
    migrations.pair(
        "002_insert",
        "INSERT INTO widgets VALUES (2);\nCREATE VIEW gadgets AS SELECT id FROM widgets;\n",
        "DROP VIEW gadgets;\nDELETE FROM widgets;\n",
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.query("SELECT id FROM widgets") == [(2,)]
    assert target.query("SELECT id FROM gadgets") == [(2,)]


def test_connection_settings_of_one_migration_do_not_reach_the_next(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    # Read-only from the next transaction on (PostgreSQL) or at once (SQLite's
    # query_only, which would also stop 001's own history row); SQLite's legacy
    # rename would leave 002's view pointing at the old table name.
    if target.vendor == "postgresql":
        settings = "SET default_transaction_read_only = on;\n"
    else:
        settings = "PRAGMA legacy_alter_table = ON;\nPRAGMA query_only = 1;\n"
    migrations.pair(
        "001_settings",
        f"CREATE TABLE a (id integer);\nCREATE VIEW v AS SELECT id FROM a;\n{settings}",
        "DROP VIEW v;\nDROP TABLE a;\n",
    )
    migrations.pair(
        "002_rename",
        "ALTER TABLE a RENAME TO a2;\nINSERT INTO a2 VALUES (1);\n",
        "ALTER TABLE a2 RENAME TO a;\n",
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.applied() == [1, 2]
    assert target.query("SELECT id FROM v") == [(1,)]


# ---------------------------------------------------------------------------
# standard_conforming_strings: the boundaries checked are the ones executed

STRINGS = "standard_conforming_strings"

# Read with standard_conforming_strings on (as the splitter reads it), line 2 is
# one SELECT of two literals and line 3 fails. Read with it off, line 2 is a
# SELECT, a COMMIT of the migration's first half, and a comment.
HIDDEN_COMMIT = "CREATE TABLE half (id integer);\nSELECT 'a\\', '; COMMIT; --';\nSELECT 1 / 0;\n"


def assert_rolled_back_whole(
    database: TargetDatabase, result: Any, label: str = "001_hidden_commit", before: int = 0
) -> None:
    assert result.code == 1, result.output
    first_line = result.err.splitlines()[0]
    assert first_line.startswith(f"{label}.up.sql:3: division by zero"), result.err
    assert database.query("SELECT to_regclass('public.half') IS NULL") == [(True,)]
    assert database.applied() == list(range(1, before + 1))


def test_standard_conforming_strings_off_for_the_database_cannot_split_a_migration(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    postgres.execute(f'ALTER DATABASE "{postgres.name}" SET standard_conforming_strings = off')
    migrations.pair("001_hidden_commit", HIDDEN_COMMIT, "DROP TABLE half;\n")

    assert_rolled_back_whole(postgres, postgres.run("sqlmigrate_up"))


def test_standard_conforming_strings_off_for_the_role_cannot_split_a_migration(
    postgres: TargetDatabase, role: str, migrations: MigrationFiles
) -> None:
    postgres.execute(f'ALTER ROLE "{role}" SET standard_conforming_strings = off')
    connect_as(postgres, role)
    migrations.pair("001_hidden_commit", HIDDEN_COMMIT, "DROP TABLE half;\n")

    assert_rolled_back_whole(postgres, postgres.run("sqlmigrate_up"))


def test_literals_are_read_as_the_splitter_reads_them(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    postgres.execute(f'ALTER DATABASE "{postgres.name}" SET standard_conforming_strings = off')
    migrations.pair(
        "001_backslash",
        "CREATE TABLE t (v text);\nINSERT INTO t VALUES ('a\\nb'), (E'c\\nd');\n",
        "DROP TABLE t;\n",
    )

    assert postgres.run("sqlmigrate_up").code == 0
    assert postgres.query("SELECT v FROM t ORDER BY v") == [("a\\nb",), ("c\nd",)]


CHANGES_STRINGS = [
    "SET standard_conforming_strings = off;",
    "SET LOCAL standard_conforming_strings TO off;",
    "SET SESSION standard_conforming_strings = 'off';",
    "RESET standard_conforming_strings;",
    "SET standard_conforming_strings TO DEFAULT;",
    "SELECT set_config('standard_conforming_strings', 'off', false);",
    "SELECT pg_catalog.set_config('Standard_Conforming_Strings', 'no', true);",
    "SELECT set_config('standard_conforming_strings', current_setting('x.y'), false);",
    "SET standard_conforming_strings = on, off;",
]


@pytest.mark.parametrize(
    ("statement", "no_transaction", "dry_run"),
    [(statement, False, False) for statement in CHANGES_STRINGS]
    + [(CHANGES_STRINGS[0], True, False), (CHANGES_STRINGS[5], True, True)]
    + [(CHANGES_STRINGS[3], False, True)],
)
def test_a_file_that_may_turn_standard_conforming_strings_off_is_refused(
    postgres: TargetDatabase,
    migrations: MigrationFiles,
    statement: str,
    no_transaction: bool,
    dry_run: bool,
) -> None:
    # Run statement by statement, the rest of the file would be read otherwise
    # than the runner split it; in one message, otherwise than psql reads it.
    migrations.table(1, "widgets")
    header = "-- sqlmigrate: no-transaction\n" if no_transaction else ""
    migrations.pair(
        "002_strings", f"{header}SELECT 1;\n\n{statement}\nSELECT 'x';\n", "SELECT 1;\n"
    )

    result = postgres.run("sqlmigrate_up", *(["--dry-run"] if dry_run else []))

    assert result.code == 2, result.output
    line = 4 if no_transaction else 3
    assert result.err.startswith(f"002_strings.up.sql:{line}: "), result.err
    assert "may turn standard_conforming_strings off" in result.err
    assert postgres.user_tables() == set()  # nothing ran, not even 001
    assert postgres.applied() == []


def test_turning_standard_conforming_strings_on_is_fine(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # pg_dump starts its output with it: a schema dump is a common first migration.
    migrations.pair(
        "001_dump",
        "SET standard_conforming_strings = on;\n"
        "SET standard_conforming_strings TO 'on';\n"
        "SET LOCAL standard_conforming_strings = true;\n"
        "SET standard_conforming_strings = 1;\n"
        "SELECT pg_catalog.set_config('standard_conforming_strings', 'on', false);\n"
        "SELECT pg_catalog.set_config('search_path', '', false);\n"
        "CREATE TABLE public.t (v text);\n"
        "INSERT INTO public.t VALUES ('a\\b');\n",
        "DROP TABLE public.t;\n",
    )
    migrations.table(2, "widgets")

    result = postgres.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert postgres.query("SELECT v FROM t") == [("a\\b",)]
    assert postgres.query("SELECT schemaname FROM pg_tables WHERE tablename = 'widgets'") == [
        ("public",)
    ]


def test_standard_conforming_strings_changed_behind_the_splitters_back_is_undone(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # A function body is not parsed for the refusal above: the runner puts the
    # setting back before the next message instead.
    migrations.pair(
        "001_sneaky",
        "DO $$ BEGIN PERFORM set_config('standard_conforming_strings', 'off', false); END $$;\n",
        "SELECT 1;\n",
    )
    migrations.pair("002_hidden_commit", HIDDEN_COMMIT, "DROP TABLE half;\n")

    result = postgres.run("sqlmigrate_up")

    assert_rolled_back_whole(postgres, result, "002_hidden_commit", before=1)


def test_a_no_transaction_file_runs_the_statements_the_splitter_saw(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # Statement by statement, each is its own message: each must be read with
    # the setting on, whatever the database says.
    postgres.execute(f'ALTER DATABASE "{postgres.name}" SET standard_conforming_strings = off')
    migrations.pair(
        "001_concurrently",
        "-- sqlmigrate: no-transaction\n"
        "CREATE TABLE t (v text);\n"
        "SELECT 'a\\', '; CREATE TABLE sneaky (id integer); --';\n"
        "INSERT INTO t VALUES ('x\\y');\n",
        "DROP TABLE t;\n",
    )

    result = postgres.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert postgres.query("SELECT to_regclass('public.sneaky') IS NULL") == [(True,)]
    assert postgres.query("SELECT v FROM t") == [("x\\y",)]


def test_a_function_turning_the_setting_off_midway_cannot_split_the_next_statement(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    # Not refused up front (the change is inside a function body): the runner sees
    # the value the server reports after each statement and turns it back on.
    migrations.pair(
        "001_concurrently",
        "-- sqlmigrate: no-transaction\n"
        "DO $$ BEGIN PERFORM set_config('standard_conforming_strings', 'off', false); END $$;\n"
        "SELECT 'a\\', '; CREATE TABLE sneaky (id integer); --';\n",
        "SELECT 1;\n",
    )

    result = postgres.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert postgres.query("SELECT to_regclass('public.sneaky') IS NULL") == [(True,)]


def test_the_strings_setting_is_put_back_as_found_when_the_run_ends(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    postgres.execute(f'ALTER DATABASE "{postgres.name}" SET standard_conforming_strings = off')
    migrations.table(1, "widgets")
    connection = connections[postgres.alias]
    try:
        Executor(postgres.alias).up()
        with connection.cursor() as cursor:
            cursor.execute("SELECT setting, source FROM pg_settings WHERE name = %s", [STRINGS])
            after = cursor.fetchall()
    finally:
        connection.close()
    assert postgres.applied() == [1]
    assert after == [("off", "database")]


def test_inside_a_callers_transaction_each_statement_is_read_as_split(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    postgres.execute(f'ALTER DATABASE "{postgres.name}" SET standard_conforming_strings = off')
    migrations.pair("001_hidden_commit", HIDDEN_COMMIT, "DROP TABLE half;\n")
    executor = Executor(postgres.alias)
    try:
        with pytest.raises(MigrationFailed) as failed, transaction.atomic(using=postgres.alias):
            executor.up()
    finally:
        connections[postgres.alias].close()

    assert failed.value.location == "001_hidden_commit.up.sql:3"  # type: ignore[attr-defined]
    assert postgres.query("SELECT to_regclass('public.half') IS NULL") == [(True,)]
    assert postgres.applied() == []
