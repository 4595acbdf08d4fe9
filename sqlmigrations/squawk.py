"""Run squawk, PostgreSQL's migration linter, and read its JSON report.

squawk (pip extra ``lint-sql``: the ``squawk-cli`` package ships its binary) knows
which statements take which locks; lint.py decides which files to give it, how
they run, and what its findings mean for this runner. squawk's own rules are
never re-implemented here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from sqlmigrations.errors import ConfigurationError, SqlMigrationsError, UsageError, one_line

INSTALL_HINT = (
    "squawk is not installed: install it with pip install 'sqlmigrations[lint-sql]' "
    "(or pip install squawk-cli), or set SQLMIGRATIONS_SQUAWK to its path"
)
# squawk lints thousands of lines in milliseconds; a minute means something is wrong,
# and neither sqlmigrate_lint nor sqlmigrate_up may hang on it.
TIMEOUT = 60.0
_INVALID_RULE = re.compile(r"invalid rule name (?P<rule>\S+)")


class SquawkMissing(UsageError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(INSTALL_HINT + detail)


class SquawkFailed(SqlMigrationsError):
    """squawk did not give a report (it crashed, or took longer than TIMEOUT)."""


@dataclass(frozen=True)
class RawFinding:
    index: int  # which of the texts given to run()
    line: int  # 1-based, in that text
    rule: str
    message: str
    help: str | None
    level: str


def find_squawk() -> str:
    """The squawk binary: SQLMIGRATIONS_SQUAWK, else beside this Python (a virtual
    environment's bin, which need not be on PATH), else on PATH."""
    configured = getattr(settings, "SQLMIGRATIONS_SQUAWK", None)
    if configured:
        found = shutil.which(str(configured))
        if found is None:
            raise SquawkMissing(f" (SQLMIGRATIONS_SQUAWK is {configured!s}, not an executable)")
        return found
    beside = [sysconfig.get_path("scripts"), str(Path(sys.executable).parent)]
    for directory in beside:
        found = shutil.which("squawk", path=directory)
        if found:
            return found
    found = shutil.which("squawk")
    if found is None:
        raise SquawkMissing()
    return found


def version(binary: str) -> str:
    """``2.70.0``, for the report; empty if squawk does not say."""
    try:
        done = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip().removeprefix("squawk").strip()


def run(
    binary: str,
    texts: Sequence[str],
    *,
    in_transaction: bool,
    pg_version: str | None,
    exclude: Sequence[str],
    timeout: float = TIMEOUT,
) -> list[RawFinding]:
    """squawk's findings for ``texts``, in one invocation.

    Each text is written to a temporary file exactly as the runner reads it (no
    byte-order mark, under a plain name), so that a directory's odd characters
    cannot be read as a glob pattern. An empty config file stands in for any
    ``.squawk.toml`` in the working directory: the settings decide, not a file
    squawk happens to find.
    """
    if not texts:
        return []
    with tempfile.TemporaryDirectory(prefix="sqlmigrate-lint-") as tmp:
        config = Path(tmp, "squawk.toml")
        config.write_text("", encoding="utf-8")
        paths = []
        for index, text in enumerate(texts):
            path = Path(tmp, f"{index}.sql")
            path.write_text(text, encoding="utf-8")
            paths.append(str(path))
        args = [binary, "--reporter", "json", "--config", str(config)]
        args.append("--assume-in-transaction" if in_transaction else "--no-assume-in-transaction")
        if pg_version:
            args.append(f"--pg-version={pg_version}")
        if exclude:
            args.append(f"--exclude={','.join(exclude)}")
        done = _run(args + paths, timeout, cwd=tmp)
    if done.returncode == 2:
        raise _usage_error(done.stderr)
    try:
        report = json.loads(done.stdout) if done.returncode in (0, 1) else None
    except ValueError:
        report = None
    if not isinstance(report, list):
        detail = one_line(done.stderr) or one_line(done.stdout) or "no report"
        raise SquawkFailed(f"squawk failed (exit code {done.returncode}): {detail}")
    by_name = {Path(p).name: i for i, p in enumerate(paths)}
    return [
        RawFinding(
            index=by_name[Path(item["file"]).name],
            line=int(item["line"]) + 1,  # squawk counts lines from 0
            rule=str(item["rule_name"]),
            message=str(item["message"]),
            help=item.get("help") or None,
            level=str(item.get("level", "Warning")).lower(),
        )
        for item in report
    ]


def unknown_rules(binary: str, rules: Sequence[str]) -> list[str]:
    """Those of ``rules`` squawk does not know (it names one per call)."""
    unknown: list[str] = []
    left = sorted(set(rules))
    while left:
        done = _run(
            [binary, "--reporter", "json", f"--exclude={','.join(left)}"], TIMEOUT, stdin=""
        )
        match = _INVALID_RULE.search(done.stderr) if done.returncode == 2 else None
        if match is None or match["rule"] not in left:
            break
        unknown.append(match["rule"])
        left.remove(match["rule"])
    return unknown


def _run(
    args: list[str], timeout: float, *, cwd: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            check=False,
            # No colours or hyperlinks in what is parsed.
            env={**os.environ, "NO_COLOR": "1"},
        )
    except subprocess.TimeoutExpired:
        raise SquawkFailed(
            f"squawk did not finish within {timeout:g}s; nothing was linted"
        ) from None
    except OSError as exc:
        raise SquawkMissing(f" ({args[0]}: {exc.strerror})") from None


def _usage_error(stderr: str) -> SqlMigrationsError:
    match = _INVALID_RULE.search(stderr)
    if match:
        return ConfigurationError(
            f"SQLMIGRATIONS_LINT_EXCLUDE names {match['rule']}, which is not a squawk rule"
        )
    return SquawkFailed(f"squawk refused its arguments: {one_line(stderr)}")
