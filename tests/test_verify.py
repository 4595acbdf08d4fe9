"""sqlmigrate_verify: each migration applied, reverted and applied again on a scratch
database, and every difference named; planted faults on real PostgreSQL and SQLite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    MigrationFiles,
    TargetDatabase,
    copy_backend_migrations,
    drop_postgres_database,
    postgres_url_for,
)


def scratch_exists(target: TargetDatabase) -> bool:
    if target.vendor == "sqlite":
        assert target.path is not None
        return (target.path.parent / f"test_{target.path.name}").exists()
    name = f"test_{target.name}"
    rows = target.query("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
    return bool(rows)


def drop_scratch(target: TargetDatabase) -> None:
    if target.vendor == "postgresql":
        drop_postgres_database(f"test_{target.name}")


def scratch(target: TargetDatabase) -> TargetDatabase:
    """The scratch database, for looking into one kept with --keepdb."""
    if target.vendor == "sqlite":
        assert target.path is not None
        path = target.path.parent / f"test_{target.path.name}"
        return TargetDatabase("sqlite", "unused", f"sqlite:///{path}", path)
    return TargetDatabase("postgresql", "unused", postgres_url_for(f"test_{target.name}"))


def q(target: TargetDatabase, name: str) -> str:
    """An object's name as verify prints it: schema-qualified on PostgreSQL."""
    return f"public.{name}" if target.vendor == "postgresql" else name


# ---------------------------------------------------------------------------
# The backend's own files


def test_the_backends_own_files_are_reversible(
    target: TargetDatabase, tmp_path: Path, settings: Any
) -> None:
    settings.SQLMIGRATIONS_DIRS = [copy_backend_migrations(tmp_path / "backend")]

    result = target.run("sqlmigrate_verify")

    assert result.code == 0, result.output
    assert result.out.splitlines() == [
        f"Verifying 3 migrations on the scratch database {scratch(target).name} "
        "(dropped afterwards)...",
        "  001_initial_schema... reversible",
        "  002_seed_demo_data... reversible",
        "  003_portfolio_id_not_null... reversible",
        "All 3 migrations are reversible.",
    ]
    assert not scratch_exists(target)
    assert target.user_tables() == set()  # the configured database is never touched


def test_the_demo_seed_down_file_removes_exactly_the_rows_its_up_file_adds(
    target: TargetDatabase, tmp_path: Path, settings: Any
) -> None:
    settings.SQLMIGRATIONS_DIRS = [copy_backend_migrations(tmp_path / "backend")]
    assert target.run("sqlmigrate_up", "--target", "1").code == 0
    # Another portfolio with rows in every table: the down file must leave them alone.
    target.execute(
        "INSERT INTO portfolios (id, name, owner_email, base_currency) "
        "VALUES ('other-1', 'Other', 'o@example.com', 'EUR')"
    )
    target.execute(
        "INSERT INTO rebalance_events (portfolio_id, idempotency_key, trigger, status, "
        "triggered_at) VALUES ('other-1', 'other-key', 'manual', 'pending', "
        "'2026-01-01 00:00:00+00')"
    )
    target.execute(
        "INSERT INTO analytics_snapshots (portfolio_id, snapshot_date, total_value) "
        "VALUES ('other-1', '2026-03-27', 10)"
    )
    target.execute(
        "INSERT INTO notification_preferences (portfolio_id, channel, event_type) "
        "VALUES ('other-1', 'email', 'drift_alert')"
    )
    tables = ["portfolios", "rebalance_events", "analytics_snapshots", "notification_preferences"]
    before = {t: sorted(map(repr, target.query(f"SELECT * FROM {t}"))) for t in tables}

    assert target.run("sqlmigrate_up", "--target", "2").code == 0
    added = {t: len(target.query(f"SELECT * FROM {t}")) - len(before[t]) for t in tables}
    assert target.run("sqlmigrate_down", "--noinput").code == 0

    assert added == {
        "portfolios": 1,
        "rebalance_events": 4,
        "analytics_snapshots": 3,
        "notification_preferences": 4,
    }
    assert {t: sorted(map(repr, target.query(f"SELECT * FROM {t}"))) for t in tables} == before


def test_a_seed_down_file_that_leaves_rows_is_named_with_each_table(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    copy_backend_migrations(migrations.path)
    migrations.write(
        "002_seed_demo_data.down.sql",
        "DELETE FROM notification_preferences WHERE portfolio_id = 'demo-portfolio-1';\n",
    )

    result = target.run("sqlmigrate_verify")

    assert result.code == 1
    assert "  002_seed_demo_data... IRREVERSIBLE" in result.out
    for table, count in [("portfolios", 1), ("rebalance_events", 4), ("analytics_snapshots", 3)]:
        line = (
            f"rows of table {q(target, table)}: 0 before the up file, {count} after the down file"
        )
        assert line in result.out
    assert "notification_preferences:" not in result.out
    assert result.err == "not reversible: 002_seed_demo_data"


@pytest.mark.parametrize("target", ["sqlite"], indirect=True)
def test_a_table_rebuilt_and_rebuilt_back_is_reversible(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    """SQLite's documented way to change a column: build a new table, copy, drop, rename.
    The rename makes SQLite store the name quoted (CREATE TABLE "t"); the same schema
    must still be the same snapshot, and a real difference must still show."""
    migrations.write("001_create_t.up.sql", "CREATE TABLE t (id text PRIMARY KEY, n integer);\n")
    migrations.write("001_create_t.down.sql", "DROP TABLE t;\n")
    rebuild = (
        "CREATE TABLE t_new (id text {} PRIMARY KEY, n integer);\n"
        "INSERT INTO t_new SELECT * FROM t;\nDROP TABLE t;\nALTER TABLE t_new RENAME TO t;\n"
    )
    migrations.pair("002_id_not_null", rebuild.format("NOT NULL"), rebuild.format(""))
    migrations.pair("003_rebuilt_wrong", rebuild.format("NOT NULL"), rebuild.format("UNIQUE"))

    result = target.run("sqlmigrate_verify")

    assert "  002_id_not_null... reversible" in result.out, result.output
    assert "  003_rebuilt_wrong... IRREVERSIBLE" in result.out, result.output
    assert result.err == "not reversible: 003_rebuilt_wrong"


# ---------------------------------------------------------------------------
# Planted faults


def test_a_down_file_that_leaves_a_function(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_add_function",
        "CREATE TABLE a (id integer PRIMARY KEY);\n"
        "CREATE FUNCTION double_it(i integer) RETURNS integer LANGUAGE sql AS $$ SELECT 2 * i $$;\n",
        "DROP TABLE a;\n",
    )

    result = postgres.run("sqlmigrate_verify")

    assert result.code == 1
    assert "  001_add_function... IRREVERSIBLE" in result.out
    assert (
        "extra after the down file: function public.double_it(i integer) (absent before the "
        "up file)" in result.out
    )
    # It then stops the second run of the up file, which says so.
    assert "the up file's second run failed: 001_add_function.up.sql:2:" in result.out
    assert result.err == "not reversible: 001_add_function"


def test_a_down_file_that_forgets_a_column(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.pair(
        "002_add_b", "ALTER TABLE a ADD COLUMN b integer NOT NULL DEFAULT 0;\n", "SELECT 1;\n"
    )

    result = target.run("sqlmigrate_verify")

    assert result.code == 1
    assert "  001_create_a... reversible" in result.out
    assert "  002_add_b... IRREVERSIBLE" in result.out
    integer = "INTEGER" if target.vendor == "sqlite" else "integer"  # as each catalog says
    assert (
        f"extra after the down file: column {q(target, 'a.b')} ({integer} NOT NULL DEFAULT 0 "
        "position 2) (absent before the up file)" in result.out
    )
    assert result.err == "not reversible: 002_add_b"


def test_a_down_file_that_drops_an_index_the_up_file_did_not_create(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_create_a",
        "CREATE TABLE a (id integer PRIMARY KEY, name text);\n"
        "CREATE INDEX a_name_idx ON a (name);\n",
        "DROP TABLE a;\n",
    )
    migrations.pair(
        "002_index_id_name",
        "CREATE INDEX a_id_name_idx ON a (id, name);\n",
        "DROP INDEX a_id_name_idx;\nDROP INDEX a_name_idx;\n",
    )
    migrations.table(3, "c")

    result = target.run("sqlmigrate_verify")

    assert result.code == 1
    lines = result.out.splitlines()
    start = lines.index("  002_index_id_name... IRREVERSIBLE")
    assert lines[start + 1].startswith(
        f"      missing after the down file: index {q(target, 'a_name_idx')} (CREATE INDEX "
    )
    assert lines[start + 1].endswith("(present before the up file)")
    assert lines[start + 2].startswith(
        f"      missing after the second up: index {q(target, 'a_name_idx')} ("
    )
    assert "  003_create_c... reversible" in lines  # the run goes on after a difference
    assert result.err == "not reversible: 002_index_id_name"


def test_a_down_file_that_leaves_an_enum_type(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair(
        "001_moods",
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');\n"
        "CREATE TABLE diary (id integer PRIMARY KEY, feeling mood NOT NULL);\n",
        "DROP TABLE diary;\n",
    )

    result = postgres.run("sqlmigrate_verify")

    assert result.code == 1
    assert (
        "extra after the down file: type public.mood (enum ('sad', 'ok', 'happy')) "
        "(absent before the up file)" in result.out
    )
    assert result.err == "not reversible: 001_moods"


def test_a_down_file_that_leaves_a_trigger_and_changes_a_view(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    """SQLite's sqlite_master entries (and their PostgreSQL counterparts)."""
    body = (
        "EXECUTE FUNCTION touch()"
        if target.vendor == "postgresql"
        else "BEGIN UPDATE a SET n = n + 1; END"
    )
    function = (
        "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\n"
        if target.vendor == "postgresql"
        else ""
    )
    migrations.pair(
        "001_create_a",
        f"CREATE TABLE a (id integer PRIMARY KEY, n integer);\n{function}"
        "CREATE VIEW v AS SELECT id FROM a;\n",
        "DROP VIEW v;\nDROP TABLE a;\n" + ("DROP FUNCTION touch();\n" if function else ""),
    )
    migrations.pair(
        "002_trigger",
        f"CREATE TRIGGER a_touch AFTER INSERT ON a FOR EACH ROW {body};\n"
        "DROP VIEW v;\nCREATE VIEW v AS SELECT id, n FROM a;\n",
        "DROP VIEW v;\nCREATE VIEW v AS SELECT id, n FROM a;\n",
    )

    result = target.run("sqlmigrate_verify")

    assert result.code == 1
    trigger = "a.a_touch" if target.vendor == "postgresql" else "a_touch"
    assert f"extra after the down file: trigger {q(target, trigger)} (CREATE TRIGGER" in result.out
    assert (
        f"changed: view {q(target, 'v')}: " in result.out and "before the up file, " in result.out
    )
    assert result.err == "not reversible: 002_trigger"


def test_every_irreversible_migration_is_named(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("001_create_a", "CREATE TABLE a (id integer);\n", "DROP TABLE a;\n")
    migrations.pair("002_rows", "INSERT INTO a VALUES (1), (2);\n", "SELECT 1;\n")
    migrations.pair("003_rows_again", "INSERT INTO a VALUES (3);\n", "SELECT 1;\n")
    migrations.table(4, "d")

    result = target.run("sqlmigrate_verify")

    assert result.code == 1
    assert f"rows of table {q(target, 'a')}: 0 before the up file, 2 after the down file" in (
        result.out
    )
    assert f"rows of table {q(target, 'a')}: 2 after the first up, 4 after the second up" in (
        result.out
    )
    assert "  004_create_d... reversible" in result.out
    assert result.err == "not reversible: 002_rows, 003_rows_again"


def test_a_no_transaction_file_runs_as_sqlmigrate_up_runs_it(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.pair(
        "002_index_concurrently",
        "-- sqlmigrate: no-transaction\nCREATE INDEX CONCURRENTLY a_id_idx ON a (id);\n",
        "-- sqlmigrate: no-transaction\nDROP INDEX CONCURRENTLY a_id_idx;\n",
    )

    result = postgres.run("sqlmigrate_verify")

    assert result.code == 0, result.output
    assert "  002_index_concurrently... reversible" in result.out


# ---------------------------------------------------------------------------
# Options, output and bad input


def test_from_starts_after_a_known_good_point(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.pair("001_create_a", "CREATE TABLE a (id integer);\n", "SELECT 1;\n")
    migrations.table(2, "b")

    everything = target.run("sqlmigrate_verify")
    after_1 = target.run("sqlmigrate_verify", "--from", "1")

    assert everything.code == 1
    assert everything.err == "not reversible: 001_create_a; 1 later migration not verified"
    assert after_1.code == 0, after_1.output
    assert after_1.out.splitlines()[1:] == [
        "  002_create_b... reversible",
        "All 1 migrations are reversible.",
    ]
    assert after_1.out.startswith("Verifying 1 migration on the scratch database ")


def test_json_output(target: TargetDatabase, migrations: MigrationFiles) -> None:
    migrations.table(1, "a")
    migrations.pair(
        "002_add_b", "ALTER TABLE a ADD COLUMN b integer;\n", "ALTER TABLE a DROP COLUMN b;\n"
    )
    migrations.pair("003_index", "CREATE INDEX a_b_idx ON a (b);\n", "SELECT 1;\n")

    result = target.run("sqlmigrate_verify", "--format", "json", "--from", "1")

    assert result.code == 1
    assert result.err == "not reversible: 003_index"
    data = json.loads(result.out)
    assert data["database"] == "target"
    assert data["vendor"] == target.vendor
    assert data["scratch_database"] == scratch(target).name
    assert data["from"] == 1 and data["kept"] is False and data["reversible"] is False
    assert data["irreversible"] == ["003_index"]
    first, second = data["migrations"]
    assert first == {
        "version": 2,
        "name": "002_add_b",
        "status": "reversible",
        "differences": [],
        "error": None,
    }
    assert second["status"] == "irreversible"
    assert second["error"].startswith("the up file's second run failed: 003_index.up.sql:1:")
    (difference,) = second["differences"]
    assert difference["step"] == "down"
    assert difference["change"] == "extra"
    assert difference["kind"] == "index"
    assert difference["name"] == q(target, "a_b_idx")
    assert difference["before"] is None
    assert "a_b_idx" in difference["after"]


def test_keepdb_reuses_and_keeps_the_scratch_database(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")
    try:
        first = target.run("sqlmigrate_verify", "--keepdb")
        kept = scratch(target)
        assert first.code == 0, first.output
        assert "(kept afterwards)" in first.out
        assert kept.applied() == [1, 2]

        kept.execute("CREATE TABLE keepdb_marker (id integer)")
        second = target.run("sqlmigrate_verify", "--keepdb", "--from", "1")

        assert second.code == 0, second.output
        assert "  002_create_b... reversible" in second.out
        assert "keepdb_marker" in kept.tables()  # the same database, not a new one
        assert kept.applied() == [1, 2]
    finally:
        drop_scratch(target)


def test_a_scratch_database_left_behind_stops_the_run_unless_kept_or_replaced(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    try:
        assert target.run("sqlmigrate_verify", "--keepdb").code == 0
        scratch(target).execute("CREATE TABLE left_behind (id integer)")

        refused = target.run("sqlmigrate_verify")
        assert refused.code == 2
        assert refused.out == ""
        assert refused.err == (
            f"the scratch {'database' if target.vendor == 'postgresql' else 'file'} "
            f"{scratch(target).name} already exists (an earlier run kept it or was killed): "
            "reuse it with --keepdb, or replace it with --replace; nothing was run"
        )
        assert "left_behind" in scratch(target).tables()

        replaced = target.run("sqlmigrate_verify", "--replace")
        assert replaced.code == 0, replaced.output
        assert not scratch_exists(target)
    finally:
        drop_scratch(target)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "7"], "--from 7 is not a migration version (versions 1 to 2)"),
        (["--from", "x"], "argument --from: 'x' is not a migration version number"),
        (["--format", "xml"], "argument --format: invalid choice: 'xml'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_creates_nothing(
    target: TargetDatabase, migrations: MigrationFiles, args: list[str], message: str
) -> None:
    migrations.table(1, "a")
    migrations.table(2, "b")

    result = target.run("sqlmigrate_verify", *args)

    assert result.code == 2
    assert result.out == ""
    assert message in result.err and "\n" not in result.err
    assert not scratch_exists(target)


def test_invalid_files_stop_it_before_the_scratch_database_is_made(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    migrations.table(1, "a")
    migrations.write("002_b.up.sql", "CREATE TABLE b (id integer);\n")  # no down file

    result = target.run("sqlmigrate_verify")

    assert result.code == 2
    assert "002_b" in result.err
    assert not scratch_exists(target)


def test_a_real_process_prints_one_line_and_exit_code(
    tmp_path: Path, migrations: MigrationFiles
) -> None:
    from tests.conftest import run_python

    migrations.pair("001_create_a", "CREATE TABLE a (id integer);\n", "SELECT 1;\n")

    result = run_python(
        "manage.py",
        "sqlmigrate_verify",
        "--no-color",
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        migrations_dir=migrations.path,
    )

    assert result.code == 1
    assert result.err == "CommandError: not reversible: 001_create_a\n"
    assert not (tmp_path / "test_db.sqlite3").exists()


@pytest.mark.parametrize(
    ("up", "down", "expected"),
    [
        (
            "ALTER TABLE a ALTER COLUMN n SET DEFAULT 5;",
            "SELECT 1;",
            "changed: column public.a.n: 'integer NULL position 2' before the up file, "
            "'integer NULL DEFAULT 5 position 2' after the down file",
        ),
        (
            "ALTER TABLE a ALTER COLUMN n TYPE bigint;",
            "SELECT 1;",
            "changed: column public.a.n: 'integer NULL position 2' before the up file, "
            "'bigint NULL position 2' after the down file",
        ),
        (
            "ALTER TYPE mood ADD VALUE IF NOT EXISTS 'great';",
            "SELECT 1;",
            "changed: type public.mood: \"enum ('sad', 'ok')\" before the up file, "
            "\"enum ('sad', 'ok', 'great')\" after the down file",
        ),
        (
            "CREATE OR REPLACE FUNCTION f() RETURNS integer LANGUAGE sql AS $$ SELECT 2 $$;",
            "SELECT 1;",
            "changed: function public.f(): its definition differs after the down file from "
            "before the up file",
        ),
        (
            "ALTER TABLE a RENAME TO b;",
            "SELECT 1;",
            "missing after the down file: table public.a (present before the up file)",
        ),
    ],
)
def test_a_down_file_that_does_not_undo_a_change_in_place(
    postgres: TargetDatabase, migrations: MigrationFiles, up: str, down: str, expected: str
) -> None:
    """Objects changed, not created: each snapshot reads their catalog rows anew."""
    migrations.pair(
        "001_base",
        "CREATE TABLE a (id integer PRIMARY KEY, n integer);\n"
        "CREATE TYPE mood AS ENUM ('sad', 'ok');\n"
        "CREATE FUNCTION f() RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;\n",
        "DROP TABLE a;\nDROP TYPE mood;\nDROP FUNCTION f();\n",
    )
    migrations.pair("002_change", f"{up}\n", f"{down}\n")

    result = postgres.run("sqlmigrate_verify")

    assert result.code == 1, result.output
    assert f"      {expected}" in result.out.splitlines()
    assert result.err.startswith("not reversible: 002_change")


def test_ctrl_c_drops_the_scratch_database_and_says_so(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    import signal
    import time

    from tests.conftest import start_command

    migrations.table(1, "a")
    migrations.pair("002_slow", "SELECT pg_sleep(30);\n", "SELECT 1;\n")
    proc = start_command(postgres, migrations, "sqlmigrate_verify")
    deadline = time.monotonic() + 30
    while not postgres.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND wait_event = 'PgSleep'",
        (f"test_{postgres.name}",),
    ):
        assert time.monotonic() < deadline, "verify never reached the slow migration"
        time.sleep(0.05)

    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)

    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == (
        "CommandError: interrupted; the scratch database was dropped, nothing else was changed."
    )
    assert not scratch_exists(postgres)
    assert postgres.user_tables() == set()


def test_ctrl_c_while_the_scratch_database_is_created_leaves_none_behind(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    """psycopg2 holds Ctrl-C until CREATE DATABASE returns, so the database exists
    when the interruption is raised: it must be dropped as the message says."""
    import signal
    import time
    import uuid

    from tests.conftest import POSTGRES_URL, pg_connect, pg_execute, start_command

    migrations.table(1, "a")
    scratch_name = f"test_{postgres.name}"
    # Another session renames a database to the scratch's name and does not commit:
    # the runner's CREATE DATABASE waits on the name's unique index.
    decoy = f"sqlm_test_decoy_{uuid.uuid4().hex[:8]}"
    holder = pg_connect(POSTGRES_URL)
    try:
        pg_execute(holder, f'CREATE DATABASE "{decoy}"')
        holder.autocommit = False
        pg_execute(holder, f'ALTER DATABASE "{decoy}" RENAME TO "{scratch_name}"')
        proc = start_command(postgres, migrations, "sqlmigrate_verify")
        deadline = time.monotonic() + 30
        while not postgres.query(
            "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'CREATE DATABASE%%' "
            "AND query LIKE %s AND wait_event_type = 'Lock'",
            (f"%{scratch_name}%",),
        ):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "verify never waited in CREATE DATABASE"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)
        holder.rollback()  # the CREATE DATABASE goes on, under psycopg2 to its end
        _, err = proc.communicate(timeout=30)
    finally:
        holder.rollback()
        holder.autocommit = True
        pg_execute(holder, f'DROP DATABASE IF EXISTS "{decoy}"')
        holder.close()

    try:
        assert proc.returncode == 130, err
        assert err.strip().splitlines()[-1] == (
            "CommandError: interrupted; the scratch database was dropped, nothing else was changed."
        )
        assert not scratch_exists(postgres)
    finally:
        drop_scratch(postgres)


def test_a_database_name_with_quotes_and_spaces(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    """The scratch database's name is the database's own with test_ before it:
    quoted as the server reads identifiers, a double quote included."""
    from urllib.parse import quote

    from tests.conftest import POSTGRES_URL, _register_alias, pg_connection, pg_execute

    name = f'{postgres.name} it\'s "odd"'
    quoted = '"' + name.replace('"', '""') + '"'
    with pg_connection(POSTGRES_URL) as conn:
        pg_execute(conn, f'ALTER DATABASE "{postgres.name}" RENAME TO {quoted}')
    # The fixture drops its database by its first name afterwards.
    renamed = TargetDatabase("postgresql", "target", postgres_url_for(quote(name, safe="")))
    _register_alias("target", renamed.url)
    migrations.table(1, "a")
    try:
        result = renamed.run("sqlmigrate_verify")

        assert result.code == 0, result.output
        assert f"scratch database test_{name} (dropped afterwards)" in result.out
        rows = renamed.query("SELECT datname FROM pg_database WHERE datname LIKE %s", (f"%{name}",))
        assert rows == [(name,)]
        assert renamed.user_tables() == set()
    finally:
        drop_postgres_database(f"test_{name}".replace('"', '""'))
        # Renamed back on the test server's database: nobody may be connected to it.
        with pg_connection(POSTGRES_URL) as conn:
            pg_execute(conn, f'ALTER DATABASE {quoted} RENAME TO "{postgres.name}"')


def test_a_session_left_on_the_scratch_database_does_not_keep_it(
    postgres: TargetDatabase, migrations: MigrationFiles
) -> None:
    """Someone looks into the scratch database while verify runs: it is still the
    command's own, dropped afterwards as it says, and the result is reported."""
    import time

    from tests.conftest import pg_connect, start_command

    migrations.table(1, "a")
    migrations.pair("002_slow", "SELECT pg_sleep(1);\n", "SELECT 1;\n")
    proc = start_command(postgres, migrations, "sqlmigrate_verify")
    deadline = time.monotonic() + 30
    while not scratch_exists(postgres):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "verify never made its scratch database"
        time.sleep(0.05)
    onlooker = pg_connect(scratch(postgres).url)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        onlooker.close()
        drop_scratch(postgres)

    assert proc.returncode == 0, out + err
    assert out.splitlines()[-1] == "All 2 migrations are reversible."
    assert not scratch_exists(postgres)


def test_every_option_has_help() -> None:
    from tests.conftest import manage

    result = manage("sqlmigrate_verify", "--help")

    assert result.code == 0
    text = " ".join(result.out.split())
    for option, words in [
        ("--from VERSION", "Apply migrations up to and including VERSION"),
        ("--keepdb", "Reuse the scratch database"),
        ("--replace", "Drop a scratch database left by an earlier run"),
        ("--format {text,json}", "Output: text for people"),
        ("--lock-timeout SECONDS", "How long to wait for another runner"),
    ]:
        assert f"{option} {words}" in text


def test_a_test_name_that_is_the_database_itself_is_refused(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    """Verify drops its scratch database: never the configured one."""
    from django.db import connections

    migrations.table(1, "a")
    assert target.run("sqlmigrate_up").code == 0
    connections.settings["target"]["TEST"]["NAME"] = (
        str(target.path) if target.path else target.name
    )

    result = target.run("sqlmigrate_verify", "--replace")

    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("the scratch database would be database 'target' itself (")
    assert target.applied() == [1] and target.user_tables() == {"a"}
