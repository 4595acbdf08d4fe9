"""Large data migrations: time and peak memory of applying one big file.

Writes a data migration of the given size in one of three shapes and applies it
with ``manage.py sqlmigrate_up`` on a fresh database of each vendor, reporting
wall time and the peak RSS of that process:

- ``rows``: one INSERT per row, its strings holding ';', '--', '/*' and quotes;
- ``values``: one INSERT ... VALUES of every row, one row a line (a single
  statement with a semicolon in nearly every line's literal);
- ``comments``: mostly comment lines, a few statements between them.

    python bench/large_file.py --mb 1 4 8 50 --shapes rows values
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.bench import ADMIN_URL, create_database, database_url, drop_database  # noqa: E402

SHAPES = ("rows", "values", "comments")
TABLE = "CREATE TABLE big (id integer PRIMARY KEY, note text NOT NULL);\n"
# Every row's literal holds what a naive splitter trips on.
NOTE = "it''s; a -- not a comment /* nor this */ \"quoted\"; $$ end;"


def data_migration(megabytes: float, shape: str) -> tuple[str, int]:
    """The text of an up file of about ``megabytes`` MB, and how many rows it inserts."""
    size = int(megabytes * 1024 * 1024)
    parts = [TABLE]
    written, rows = len(TABLE), 0
    if shape == "values":
        parts.append("INSERT INTO big (id, note) VALUES\n")
    while written < size:
        rows += 1
        if shape == "rows":
            line = f"INSERT INTO big (id, note) VALUES ({rows}, '{rows}: {NOTE}');\n"
        elif shape == "values":
            line = f"({rows}, '{rows}: {NOTE}'),\n"
        else:
            line = f"INSERT INTO big (id, note) VALUES ({rows}, 'row {rows}');\n" + (
                f"-- {NOTE} a comment line; between statements\n" * 40
            )
        parts.append(line)
        written += len(line)
    if shape == "values":
        parts[-1] = parts[-1].removesuffix(",\n") + ";\n"
    return "".join(parts), rows


def write_migration(directory: Path, megabytes: float, shape: str) -> int:
    text, rows = data_migration(megabytes, shape)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "001_big.up.sql").write_text(text, encoding="utf-8")
    (directory / "001_big.down.sql").write_text("DROP TABLE big;\n", encoding="utf-8")
    return rows


# Linux counts in a child's peak RSS what its parent held when it forked (even with
# vfork), so a child of this script, which just built a large file, would look as
# large: the command is started by a small parent of its own, which reports it.
_MEASURE = """\
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


def apply(directory: Path, url: str, timeout: float) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MB) of one ``sqlmigrate_up`` process, and its stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=url,
        BENCH_SQL_DIR=str(directory),
        PYTHONPATH=str(REPO),
        # As in production: DEBUG keeps and times every query it runs.
        DJANGO_DEBUG="0",
    )
    env.pop("BENCH_DJANGO_APP", None)
    command = [sys.executable, "manage.py", "sqlmigrate_up", "-v", "0"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _MEASURE, *command],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # so a timeout ends the command too
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return float("inf"), 0.0, f"killed after {timeout:.0f} s"
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"sqlmigrate_up exited {proc.returncode}: {err[-800:]!r}")
    return seconds, int(out.split()[-1]) / 1024, err.decode(errors="replace")


def run(vendor: str, megabytes: float, shape: str, timeout: float) -> str:
    with tempfile.TemporaryDirectory(prefix="sqlmigrations-large-") as tmp:
        directory = Path(tmp) / "sql"
        rows = write_migration(directory, megabytes, shape)
        if vendor == "sqlite":
            seconds, peak, err = apply(directory, f"sqlite:///{tmp}/db.sqlite3", timeout)
        else:
            name = create_database()
            try:
                seconds, peak, err = apply(directory, database_url(name), timeout)
            finally:
                drop_database(name)
    shown = f"{seconds:.1f} s" if seconds != float("inf") else err
    return f"| {vendor} | {shape} | {megabytes:g} MB | {rows:,} | {shown} | {peak:.0f} MB |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, nargs="+", default=[1, 4, 8, 50])
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=["rows", "values"])
    parser.add_argument("--vendors", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--timeout", type=float, default=600, help="Seconds per run.")
    args = parser.parse_args()
    print(
        f"Machine: {platform.platform()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; PostgreSQL at {ADMIN_URL.rsplit('@', 1)[-1]}.\n"
    )
    print("| database | shape | size | rows | sqlmigrate_up | peak RSS |")
    print("|---|---|---|---|---|---|")
    for megabytes in args.mb:
        for shape in args.shapes:
            for vendor in args.vendors:
                print(run(vendor, megabytes, shape, args.timeout), flush=True)


if __name__ == "__main__":
    main()
