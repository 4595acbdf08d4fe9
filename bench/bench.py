"""Benchmark sqlmigrations against psql (the floor) and peer tools on PostgreSQL.

Generates N migration pairs per size (each up creates a small table with an
index and inserts three rows; each down drops it), then, for every tool in turn
and on a fresh database each time, measures wall time and peak memory of:
apply all, status with all applied, roll back all, and a dry run over all
pending. Tools alternate within each repeat, so drift in the machine's load hits
them alike; medians and ratios to psql are printed as a Markdown table.

    python bench/bench.py --sizes 100 1000 --repeats 3 --output bench/RESULTS.md

Peers: yoyo-migrations (pip install yoyo-migrations), Django's own migrate (one
RunSQL per migration), dbmate (npm install dbmate, found via --dbmate or PATH).
A peer that is not installed is reported as such and skipped.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
OPERATIONS = ["apply", "status", "rollback", "dry-run"]


# --------------------------------------------------------------------------- files


def up_sql(i: int) -> str:
    return (
        f"CREATE TABLE bench_t{i} (id integer PRIMARY KEY, name text NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now());\n"
        f"CREATE INDEX bench_t{i}_name_idx ON bench_t{i} (name);\n"
        f"INSERT INTO bench_t{i} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c');\n"
    )


def down_sql(i: int) -> str:
    return f"DROP TABLE bench_t{i};\n"


def generate(root: Path, n: int) -> dict[str, Path]:
    """The same N migrations in each tool's layout."""
    sql, yoyo, dbmate = root / "sql", root / "yoyo", root / "dbmate"
    app = root / "djangoapp" / f"bench_app_{n}"
    for d in (sql, yoyo, dbmate, app / "migrations"):
        d.mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    for i in range(1, n + 1):
        label = f"{i:05d}_t{i}"
        (sql / f"{label}.up.sql").write_text(up_sql(i))
        (sql / f"{label}.down.sql").write_text(down_sql(i))
        (yoyo / f"{label}.sql").write_text(up_sql(i))
        (yoyo / f"{label}.rollback.sql").write_text(down_sql(i))
        (dbmate / f"{label}.sql").write_text(
            f"-- migrate:up\n{up_sql(i)}\n-- migrate:down\n{down_sql(i)}"
        )
        depends = f"[('bench_app_{n}', '{i - 1:05d}_t{i - 1}')]" if i > 1 else "[]"
        (app / "migrations" / f"{label}.py").write_text(
            "from django.db import migrations\n\n\n"
            "class Migration(migrations.Migration):\n"
            f"    dependencies = {depends}\n"
            f"    operations = [migrations.RunSQL({up_sql(i)!r}, {down_sql(i)!r})]\n"
        )
    return {"sql": sql, "yoyo": yoyo, "dbmate": dbmate, "django_app": app}


# --------------------------------------------------------------------------- running


@dataclass
class Sample:
    seconds: float
    peak_mb: float


def run_measured(commands: list[list[str]], env: dict[str, str]) -> Sample:
    """Run commands one after another; wall time of all, peak RSS of the largest."""
    peak_kb = 0
    started = time.perf_counter()
    for command in commands:
        proc = subprocess.Popen(
            command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        assert proc.stderr is not None
        _, status, usage = os.wait4(proc.pid, 0)
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:4])}... exited {proc.returncode}: {err[-800:]}")
        peak_kb = max(peak_kb, usage.ru_maxrss)
    return Sample(time.perf_counter() - started, peak_kb / 1024)


def database_url(name: str) -> str:
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def create_database() -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@dataclass
class Tool:
    name: str
    # operation -> (files, database url) -> commands to run; missing = not supported
    commands: dict[str, Callable[[dict[str, Path], str], list[list[str]]]]
    env: Callable[[dict[str, Path], str], dict[str, str]] = field(
        default=lambda files, url: dict(os.environ)
    )


def django_env(files: dict[str, Path], url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("BENCH_DJANGO_APP", None)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=url,
        BENCH_SQL_DIR=str(files["sql"]),
        PYTHONPATH=f"{REPO}{os.pathsep}{files['django_app'].parent}",
    )
    return env


def django_migrate_env(files: dict[str, Path], url: str) -> dict[str, str]:
    return {**django_env(files, url), "BENCH_DJANGO_APP": files["django_app"].name}


def tools(dbmate: str | None, yoyo: str | None) -> list[Tool]:
    manage = [sys.executable, "manage.py"]
    found = [
        Tool(
            "sqlmigrations",
            {
                "apply": lambda f, u: [[*manage, "sqlmigrate_up", "-v", "0"]],
                "status": lambda f, u: [[*manage, "sqlmigrate_status"]],
                "rollback": lambda f, u: [
                    [
                        *manage,
                        "sqlmigrate_down",
                        "--target",
                        "0",
                        "--noinput",
                        "--no-backup",
                        "-v",
                        "0",
                    ]
                ],
                "dry-run": lambda f, u: [[*manage, "sqlmigrate_up", "--dry-run"]],
            },
            django_env,
        ),
        Tool(
            "psql -1 -f per file",
            {
                "apply": lambda f, u: [
                    ["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(p), u]
                    for p in sorted(f["sql"].glob("*.up.sql"))
                ],
                "rollback": lambda f, u: [
                    ["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-1", "-f", str(p), u]
                    for p in sorted(f["sql"].glob("*.down.sql"), reverse=True)
                ],
            },
        ),
        Tool(
            "django migrate (RunSQL)",
            {
                "apply": lambda f, u: [[*manage, "migrate", f["django_app"].name, "-v", "0"]],
                "status": lambda f, u: [[*manage, "showmigrations", f["django_app"].name]],
                "rollback": lambda f, u: [
                    [*manage, "migrate", f["django_app"].name, "zero", "-v", "0"]
                ],
                "dry-run": lambda f, u: [[*manage, "migrate", f["django_app"].name, "--plan"]],
            },
            django_migrate_env,
        ),
        Tool(
            "manage.py check (start-up floor)",
            {"status": lambda f, u: [[*manage, "check"]]},
            django_env,
        ),
    ]
    if yoyo:
        found.append(
            Tool(
                "yoyo-migrations",
                {
                    "apply": yoyo_command(yoyo, "apply", "--batch"),
                    "status": yoyo_command(yoyo, "list"),
                    "rollback": yoyo_command(yoyo, "rollback", "--batch", "--all"),
                },
            )
        )
    if dbmate:
        found.append(
            Tool(
                "dbmate",
                {
                    "apply": dbmate_command(dbmate, "--no-dump-schema", "up"),
                    "status": dbmate_command(dbmate, "status"),
                },
            )
        )
    return found


def yoyo_command(yoyo: str, *args: str) -> Callable[[dict[str, Path], str], list[list[str]]]:
    def command(files: dict[str, Path], url: str) -> list[list[str]]:
        database = url.replace("postgres://", "postgresql+psycopg://")
        return [[yoyo, *args, "--no-config-file", "--database", database, str(files["yoyo"])]]

    return command


def dbmate_command(dbmate: str, *args: str) -> Callable[[dict[str, Path], str], list[list[str]]]:
    def command(files: dict[str, Path], url: str) -> list[list[str]]:
        database = f"{url}?sslmode=disable"
        return [[dbmate, "--url", database, "--migrations-dir", str(files["dbmate"]), *args]]

    return command


def bench_once(tool: Tool, files: dict[str, Path]) -> dict[str, Sample]:
    """apply, status, rollback on one fresh database; dry-run on another, empty one."""
    results: dict[str, Sample] = {}
    name = create_database()
    try:
        url = database_url(name)
        env = tool.env(files, url)
        if "apply" in tool.commands:
            results["apply"] = run_measured(tool.commands["apply"](files, url), env)
        if "status" in tool.commands:
            results["status"] = run_measured(tool.commands["status"](files, url), env)
        if "rollback" in tool.commands:
            results["rollback"] = run_measured(tool.commands["rollback"](files, url), env)
    finally:
        drop_database(name)
    if "dry-run" in tool.commands:
        name = create_database()
        try:
            url = database_url(name)
            results["dry-run"] = run_measured(
                tool.commands["dry-run"](files, url), tool.env(files, url)
            )
        finally:
            drop_database(name)
    return results


# --------------------------------------------------------------------------- report


def report(results: dict[int, dict[str, dict[str, list[Sample]]]], repeats: int) -> str:
    lines = [
        "## Results",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {postgres_version()}. "
        f"Median of {repeats} runs; tools alternate within each run.",
        "Ratios are to `psql -1 -f` per file for apply and rollback, and to `manage.py check` "
        "(Django start-up) for status.",
        "",
    ]
    for n, by_tool in results.items():
        lines += [
            f"### N = {n}",
            "",
            "| tool | " + " | ".join(OPERATIONS) + " | peak memory |",
            "|---|" + "---|" * (len(OPERATIONS) + 1),
        ]
        floors = {
            "apply": median(by_tool.get("psql -1 -f per file", {}).get("apply")),
            "rollback": median(by_tool.get("psql -1 -f per file", {}).get("rollback")),
            "status": median(by_tool.get("manage.py check (start-up floor)", {}).get("status")),
        }
        for tool, ops in by_tool.items():
            cells = []
            for op in OPERATIONS:
                value = median(ops.get(op))
                if value is None:
                    cells.append("n/a")
                    continue
                floor = floors.get(op)
                ratio = f" ({value / floor:.2f}×)" if floor else ""
                cells.append(f"{value:.2f} s{ratio}")
            peak = max((s.peak_mb for samples in ops.values() for s in samples), default=0)
            lines.append(f"| {tool} | " + " | ".join(cells) + f" | {peak:.0f} MB |")
        lines.append("")
    return "\n".join(lines)


def median(samples: list[Sample] | None) -> float | None:
    return statistics.median(s.seconds for s in samples) if samples else None


def postgres_version() -> str:
    with psycopg.connect(ADMIN_URL) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tools", nargs="*", help="Only tools whose name contains one of these.")
    parser.add_argument(
        "--dbmate", default=shutil.which("dbmate"), help="Path to the dbmate binary."
    )
    parser.add_argument("--yoyo", default=shutil.which("yoyo"), help="Path to the yoyo script.")
    parser.add_argument("--output", type=Path, help="Also write the Markdown table here.")
    args = parser.parse_args()

    chosen = [
        t
        for t in tools(args.dbmate, args.yoyo)
        if not args.tools or any(word in t.name for word in args.tools)
    ]
    print("Tools:", ", ".join(t.name for t in chosen), file=sys.stderr)
    results: dict[int, dict[str, dict[str, list[Sample]]]] = {}
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix=f"sqlmigrations-bench-{n}-") as tmp:
            files = generate(Path(tmp), n)
            by_tool: dict[str, dict[str, list[Sample]]] = {t.name: {} for t in chosen}
            for repeat in range(args.repeats):
                # Rotate the order so no tool always runs first (or last).
                order = chosen[repeat % len(chosen) :] + chosen[: repeat % len(chosen)]
                for tool in order:
                    started = time.perf_counter()
                    for op, sample in bench_once(tool, files).items():
                        by_tool[tool.name].setdefault(op, []).append(sample)
                    print(
                        f"N={n} run {repeat + 1}/{args.repeats} {tool.name}: "
                        f"{time.perf_counter() - started:.1f} s",
                        file=sys.stderr,
                    )
            results[n] = by_tool
    table = report(results, args.repeats)
    print(table)
    if args.output:
        args.output.write_text(table + "\n")


if __name__ == "__main__":
    main()
