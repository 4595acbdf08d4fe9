"""A squawk that misbehaves (SQLMIGRATIONS_SQUAWK names any executable): garbage on its
output, a report of the wrong shape, a child that never ends. sqlmigrate_lint answers
one line and an exit code, never a traceback, and leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, MigrationFiles, TargetDatabase


@pytest.fixture(autouse=True)
def one_file(postgres: TargetDatabase, migrations: MigrationFiles) -> None:
    migrations.pair("001_t", "CREATE TABLE t (id bigint PRIMARY KEY);", "DROP TABLE t;")


def fake_squawk(directory: Path, body: str) -> Path:
    path = directory / "squawk"
    path.write_text("#!/bin/sh\n" + body, encoding="utf-8")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("printf '\\377\\376 not text'\nexit 1\n", id="bytes-that-are-not-utf-8"),
        pytest.param("printf '\\377'\nexit 0\n", id="stderr-or-stdout-not-utf-8-exit-0"),
        pytest.param("echo '[1, 2]'\nexit 1\n", id="a-list-of-numbers"),
        pytest.param("echo '[{\"foo\": 1}]'\nexit 1\n", id="findings-without-fields"),
        pytest.param(
            'echo \'[{"file": "elsewhere.sql", "line": 1, "rule_name": "r", "message": "m"}]\'\n'
            "exit 1\n",
            id="a-file-it-was-not-given",
        ),
        pytest.param(
            'echo \'[{"file": "0.sql", "line": "two", "rule_name": "r", "message": "m"}]\'\n'
            "exit 1\n",
            id="a-line-that-is-no-number",
        ),
    ],
)
def test_a_report_that_is_not_squawks_is_one_line_and_exit_1(
    postgres: TargetDatabase, tmp_path: Path, settings: Any, body: str
) -> None:
    settings.SQLMIGRATIONS_SQUAWK = str(fake_squawk(tmp_path, body))

    result = postgres.run("sqlmigrate_lint")

    assert result.code == 1, result.output
    assert result.err.startswith("squawk failed"), result.err
    assert "\n" not in result.err.strip()
    assert "Traceback" not in result.output


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is dead, waiting for a parent to reap it


def test_sigterm_while_squawk_hangs_exits_130_and_ends_squawks_children(
    postgres: TargetDatabase, migrations: MigrationFiles, tmp_path: Path
) -> None:
    """A squawk (a wrapper script, say) whose child never ends: the child must not
    outlive the command, nor keep its output pipe, and so the command, open."""
    child = tmp_path / "child.pid"
    squawk = fake_squawk(tmp_path, f"sleep 300 &\necho $! > {child}\nwait\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "tests.subprocess_settings",
        "SQLMIGRATIONS_TEST_DIRS": str(migrations.path),
        "SQLMIGRATIONS_TEST_SETTINGS": json.dumps({"SQLMIGRATIONS_SQUAWK": str(squawk)}),
        "DATABASE_URL": postgres.url,
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "sqlmigrate_lint", "--no-color"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (child.exists() and child.read_text().strip()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the fake squawk never started"
            time.sleep(0.05)
        pid = int(child.read_text())
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    try:
        assert proc.returncode == 130, err
        assert err.strip() == "CommandError: interrupted; lint only reads, nothing was changed."
        deadline = time.monotonic() + 5
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid), "squawk's child outlived sqlmigrate_lint"
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_squawk_that_prints_without_end_is_stopped_at_a_bounded_size(
    postgres: TargetDatabase, tmp_path: Path, settings: Any
) -> None:
    """Its output is held in memory to be parsed: without a bound, 60 s of 'yes' would
    be gigabytes before the timeout."""
    settings.SQLMIGRATIONS_SQUAWK = str(fake_squawk(tmp_path, "exec yes garbage\n"))

    started = time.monotonic()
    result = postgres.run("sqlmigrate_lint")

    assert result.code == 1, result.output
    assert result.err.startswith("squawk failed: it printed more than"), result.err
    assert time.monotonic() - started < 30


def test_a_squawk_that_hangs_is_waited_for_once_not_once_per_call(
    postgres: TargetDatabase, tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """squawk is asked its version, then to lint: a hung one must cost one timeout (a
    deploy's sqlmigrate_up lints first), not two. The timeout is shortened to 2 s."""
    from sqlmigrations import squawk

    monkeypatch.setattr(squawk, "TIMEOUT", 2.0)
    settings.SQLMIGRATIONS_SQUAWK = str(fake_squawk(tmp_path, "sleep 300\n"))

    started = time.monotonic()
    result = postgres.run("sqlmigrate_lint")
    elapsed = time.monotonic() - started

    assert result.code == 1, result.output
    assert result.err == "squawk did not finish within 2s; nothing was linted"
    assert elapsed < 3.9
