"""The benchmark script still runs (a smoke test of the script, never of its timings)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import POSTGRES_URL, REPO, require_postgres


@pytest.mark.postgresql
def test_bench_script_runs_end_to_end() -> None:
    require_postgres()
    env = {**os.environ, "BENCH_POSTGRES_URL": POSTGRES_URL}
    env.pop("DATABASE_URL", None)

    result = subprocess.run(
        [
            sys.executable,
            "bench/bench.py",
            "--sizes",
            "3",
            "--repeats",
            "1",
            "--tools",
            "sqlmigrations",
            "psql",
            "django",
            "check",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| tool | apply | status | rollback | dry-run")
    assert any(row.startswith("| sqlmigrations | ") and "n/a" not in row for row in rows)
    assert any(row.startswith("| psql -1 -f per file | ") for row in rows)
