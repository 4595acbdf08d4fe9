"""Large migration files: splitting is linear, exact, and a big data migration applies.

Linearity is checked by a ratio of CPU times on the same machine, never by a wall
time: four times the text must take about four times as long (a quadratic
splitter takes sixteen).
"""

from __future__ import annotations

import gc
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connections

from bench.large_file import NOTE, apply, data_migration, write_migration
from sqlmigrations import sql
from sqlmigrations.batch import run_batch
from sqlmigrations.sql import SqlSyntaxError, split_statements
from tests.conftest import (
    POSTGRES_URL,
    REPO,
    MigrationFiles,
    TargetDatabase,
    require_postgres,
    wait_for_query,
)

MB = 1024 * 1024


def cpu_seconds(text: str, vendor: str) -> float:
    """The least CPU time of four splits of ``text``."""
    best = float("inf")
    gc.collect()
    gc.disable()  # a collection landing in one run but not another is noise
    try:
        for _ in range(4):
            started = time.process_time()
            split_statements(text, vendor)
            best = min(best, time.process_time() - started)
    finally:
        gc.enable()
    return best


def trigger_with_a_long_body(size: int) -> str:
    """SQLite: one trigger whose body holds a semicolon on every line."""
    line = f"    INSERT INTO audit (note) VALUES ('{NOTE}');\n"
    body = line * (size // len(line))
    return f"CREATE TRIGGER t AFTER INSERT ON big BEGIN\n{body}END;\n"


def function_with_a_long_body(size: int) -> str:
    """PostgreSQL: one function whose $$ body holds a semicolon ending every line."""
    line = "    INSERT INTO audit (note) VALUES ('x; -- y');\n"
    body = line * (size // len(line))
    return (
        "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body}END;\n$$;\nSELECT 1;\n"
    )


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql"])
@pytest.mark.parametrize("shape", ["rows", "values", "body"])
def test_splitting_time_grows_linearly_with_the_file(vendor: str, shape: str) -> None:
    def text(megabytes: float) -> str:
        if shape == "body":
            make = trigger_with_a_long_body if vendor == "sqlite" else function_with_a_long_body
            return make(int(megabytes * MB))
        return data_migration(megabytes, shape)[0]

    small, large = text(1), text(4)
    split_statements(small, vendor)  # imports and warms up

    ratio = cpu_seconds(large, vendor) / max(cpu_seconds(small, vendor), 1e-3)

    # Linear is 4 (a little more when the larger text fits no cache, and up to ~7 on a
    # loaded machine); quadratic is 16.
    assert ratio < 10, f"{vendor} {shape}: 4x the text took {ratio:.1f}x the time"


# Pieces of a few characters make nearly every cut fall inside a literal, a comment,
# a body or a statement: each must come out exactly as the whole file's parse.
POSTGRES_CUTS = """\
-- a comment;
SELECT 1;
SELECT 'a;
b', E'c\\';
d' -- e;
;
/* f;
 /* nested;
 */ g;
 */ SELECT $$ h;
 $$, $t$ i;
 $t$;
CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1;
  SELECT 2;
END;
CREATE FUNCTION g() RETURNS int LANGUAGE plpgsql AS $$ BEGIN
  RETURN 1;
END; $$;
CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1;
  SELECT 2);
SELECT 1 AS "j;
k" -- no semicolon ends this line
, 2;\r
SELECT 'é;
ü';
SELECT 3
"""


@pytest.mark.parametrize("piece", [1, 7, 30, 100])
def test_postgresql_pieces_split_as_the_whole_file(
    piece: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = split_statements(POSTGRES_CUTS, "postgresql")
    monkeypatch.setattr(sql, "PIECE", piece)

    assert split_statements(POSTGRES_CUTS, "postgresql") == whole
    assert [s.line for s in whole] == [2, 3, 10, 13, 16, 19, 21, 24, 26]


@pytest.mark.parametrize("piece", [1, 7, 30, 100])
@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("SELECT 1;\nSELECT (2;\nSELECT 3;\n", 2, 'syntax error at or near ";"'),
        ("SELECT 1;\nSELECT 2;\nSELEC 3;\n", 3, 'syntax error at or near "SELEC"'),
        ("SELECT 1;\nSELECT 'a;\nb;\n", 2, 'unterminated quoted string at or near "\'a;\nb;\n"'),
        ("SELECT 1;\nSELECT (2 -- c;\n", 3, "syntax error at end of input"),
    ],
)
def test_postgresql_syntax_errors_keep_their_line_in_pieces(
    piece: int, text: str, line: int, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "PIECE", piece)

    with pytest.raises(SqlSyntaxError) as caught:
        split_statements(text, "postgresql")

    assert (caught.value.line, caught.value.message) == (line, message)


SQLITE_STATEMENTS = [
    "CREATE TABLE t (id integer PRIMARY KEY, v text)",
    "CREATE TEMP TRIGGER a AFTER INSERT ON t BEGIN\n  SELECT ';END;';\n  SELECT 1 ; end",
    "EXPLAIN CREATE TRIGGER b AFTER INSERT ON t BEGIN SELECT CASE 1 WHEN 1 THEN 2 END; END",
    "INSERT INTO t (v) VALUES ('it''s; -- quoted'), (\"x;\"), (`y;`), ([z;])",
    "SELECT 1 /* c; */ -- d;\n + 2",
    "SELECT 'é;'",
]


def test_sqlite_statements_end_where_sqlite_says_they_are_complete() -> None:
    text = "-- head;\n" + "".join(f"{s};\n/* x; */\n" for s in SQLITE_STATEMENTS) + "SELECT 3"

    statements = split_statements(text, "sqlite")

    assert [s.sql for s in statements] == [*(f"{s};" for s in SQLITE_STATEMENTS), "SELECT 3"]
    for statement in statements[:-1]:
        assert sqlite3.complete_statement(statement.sql)
        # ...and no shorter part of it ending in a semicolon is.
        cuts = [i for i, char in enumerate(statement.sql[:-1]) if char == ";"]
        assert not any(sqlite3.complete_statement(statement.sql[: i + 1]) for i in cuts)
    lines = [text.count("\n", 0, text.index(s.sql)) + 1 for s in statements]
    assert [s.line for s in statements] == lines


# End to end ------------------------------------------------------------------------


def test_a_20_mb_data_migration_applies_within_a_small_multiple_of_its_size(
    target: TargetDatabase, tmp_path: Path
) -> None:
    # A real manage.py process: its peak RSS beyond the same command's with no
    # migration to run, against the file's size (before issue 10: 12x on PostgreSQL).
    empty, directory = tmp_path / "empty", tmp_path / "sql"
    empty.mkdir()
    rows = write_migration(directory, 20, "rows")

    _, baseline, _ = apply(empty, target.url, timeout=120)
    _, peak, _ = apply(directory, target.url, timeout=300)

    assert target.query("SELECT count(*), max(id) FROM big") == [(rows, rows)]
    assert target.applied() == [1]
    multiple = (peak - baseline) / 20
    assert multiple < 8, f"{baseline:.0f} MB with nothing to do, {peak:.0f} MB for 20 MB"


def test_a_20_mb_insert_of_every_row_applies(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    rows = write_migration(migrations.path, 20, "values")

    result = target.run("sqlmigrate_up")

    assert result.code == 0, result.output
    assert target.query("SELECT count(*), max(id) FROM big") == [(rows, rows)]


def test_a_failure_in_the_last_statement_of_20_mb_names_its_line(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    text, _ = data_migration(20, "rows")
    text += "-- the first row again\nINSERT INTO big (id, note) VALUES\n  (1, 'again');\n"
    migrations.pair("001_big", text, "DROP TABLE big;\n")
    line = text.count("\n") - 1

    result = target.run("sqlmigrate_up")

    assert result.code == 1, result.output
    assert result.err.startswith(f"001_big.up.sql:{line}: "), result.err[:300]
    assert "Not applied (rolled back or not started): 001_big." in result.err
    assert target.applied() == []
    assert "big" not in target.user_tables()


def test_ctrl_c_during_a_long_message_rolls_it_back_and_leaves_the_session_idle(
    postgres: TargetDatabase,
) -> None:
    # psycopg cancels a message interrupted in its wait, but the results still
    # to come stay unread: the session must be drained and its block rolled
    # back, or it stays busy and the next query on it fails.
    text, _ = data_migration(20, "rows")
    statements = [s.sql for s in split_statements(text, "postgresql")]
    connection = connections[postgres.alias]

    def interrupt_once_it_runs() -> None:
        wait_for_query(postgres, "CREATE TABLE big")
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)

    interrupter = threading.Thread(target=interrupt_once_it_runs)
    interrupter.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_batch(connection, statements)
        interrupter.join()
        assert connection.connection.info.transaction_status.name == "IDLE"
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'big'")
            assert cursor.fetchone() == (0,)
    finally:
        interrupter.join()
        connection.close()


@pytest.mark.postgresql
def test_the_large_file_benchmark_runs_end_to_end() -> None:
    # A smoke test of the script, never of its timings.
    require_postgres()
    env = {**os.environ, "BENCH_POSTGRES_URL": POSTGRES_URL}
    env.pop("DATABASE_URL", None)

    result = subprocess.run(
        [sys.executable, "bench/large_file.py", "--mb", "0.05", "--shapes", "rows", "values"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert rows[0] == "| database | shape | size | rows | sqlmigrate_up | peak RSS |"
    assert len(rows) == 1 + 4  # both shapes on both databases
    assert all(row.endswith(" MB |") and "killed" not in row for row in rows[1:])


def test_a_nul_character_stops_the_run_before_anything_runs(
    target: TargetDatabase, migrations: MigrationFiles
) -> None:
    # pglast reads the text as a C string: on PostgreSQL every statement after
    # the NUL was silently left out, and the migration recorded as applied.
    migrations.table(1, "widgets")
    migrations.pair(
        "002_nul", "CREATE TABLE a (id integer);\nSELECT 1; \0\nCREATE TABLE b (id integer);\n", ""
    )

    result = target.run("sqlmigrate_up")

    assert result.code == 2, result.output
    assert result.err.startswith("002_nul.up.sql:2: a NUL character"), result.err
    assert target.applied() == []
    assert target.user_tables() == set()
