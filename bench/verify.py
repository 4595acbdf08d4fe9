"""How long sqlmigrate_verify takes against applying the same migrations once.

For each size N it generates bench.py's N migration pairs (a table with an index and
three rows; the down drops it) and times, alternately and each on a fresh PostgreSQL
database: ``manage.py sqlmigrate_up`` of all N, and ``manage.py sqlmigrate_verify``
of all N (which creates and drops its own scratch database, applies each up file
twice and each down file once, and takes three catalog snapshots per migration).
The issue's bound is verify <= 10x apply at N = 300.

    python bench/verify.py --sizes 100 300 1000 --repeats 3

Also prints the snapshot's own cost at each size (the median of 20 snapshots of the
fully migrated database), as the part of verify that grows with the schema.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench import (  # noqa: E402
    Sample,
    create_database,
    database_url,
    down_sql,
    drop_database,
    postgres_version,
    run_measured,
    up_sql,
)

MANAGE = [sys.executable, "manage.py"]


def generate(root: Path, n: int) -> Path:
    for i in range(1, n + 1):
        (root / f"{i:05d}_t{i}.up.sql").write_text(up_sql(i))
        (root / f"{i:05d}_t{i}.down.sql").write_text(down_sql(i))
    return root


def env_for(files: Path, url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=url,
        BENCH_SQL_DIR=str(files),
        PYTHONPATH=str(REPO),
    )
    env.pop("BENCH_DJANGO_APP", None)
    return env


def measure(files: Path, command: str) -> Sample:
    name = create_database()
    try:
        return run_measured([[*MANAGE, command, "-v", "0"]], env_for(files, database_url(name)))
    finally:
        drop_database(name)
        drop_database(f"test_{name}")  # verify's scratch database, if a run died


def snapshot_ms(files: Path) -> float:
    """Median time of one snapshot of the database with all N applied."""
    name = create_database()
    code = (
        "import time, statistics\n"
        "from django.db import connection\n"
        "from sqlmigrations.vendors import vendor_for\n"
        "vendor = vendor_for(connection)\n"
        "times = []\n"
        "for _ in range(20):\n"
        "    t = time.perf_counter(); vendor.snapshot(); times.append(time.perf_counter() - t)\n"
        "print(statistics.median(times) * 1000)\n"
    )
    try:
        env = env_for(files, database_url(name))
        run_measured([[*MANAGE, "sqlmigrate_up", "-v", "0"]], env)
        out = subprocess.run(
            [*MANAGE, "shell", "-c", code], env=env, cwd=REPO, capture_output=True, text=True
        )
        return float(out.stdout.strip().splitlines()[-1])
    finally:
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rows = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix=f"sqlmigrations-verify-{n}-") as tmp:
            files = generate(Path(tmp), n)
            samples: dict[str, list[Sample]] = {"sqlmigrate_up": [], "sqlmigrate_verify": []}
            for repeat in range(args.repeats):
                order = list(samples) if repeat % 2 == 0 else list(reversed(samples))
                for command in order:
                    started = time.perf_counter()
                    samples[command].append(measure(files, command))
                    print(
                        f"N={n} run {repeat + 1}/{args.repeats} {command}: "
                        f"{time.perf_counter() - started:.1f} s",
                        file=sys.stderr,
                    )
            up = statistics.median(s.seconds for s in samples["sqlmigrate_up"])
            verify = statistics.median(s.seconds for s in samples["sqlmigrate_verify"])
            peak = max(s.peak_mb for s in samples["sqlmigrate_verify"])
            rows.append(
                f"| {n} | {up:.2f} s | {verify:.2f} s | {verify / up:.1f}× | "
                f"{snapshot_ms(files):.1f} ms | {peak:.0f} MB |"
            )
    print(f"PostgreSQL: {postgres_version()}; median of {args.repeats} runs.\n")
    print("| N | sqlmigrate_up | sqlmigrate_verify | verify / up | one snapshot | verify peak |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
