"""Run squawk, PostgreSQL's migration linter, and read its JSON report.

squawk (pip extra ``lint-sql``: the ``squawk-cli`` package ships its binary) knows
which statements take which locks; lint.py decides which files to give it, how
they run, and what its findings mean for this runner. squawk's own rules are
never re-implemented here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
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
# squawk's JSON for thousands of findings is a few MB; far more is not a report.
MAX_OUTPUT = 64 * 2**20
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
    """``2.70.0``, for the report; empty if squawk does not say. A squawk that does not
    answer this in TIMEOUT is hung: SquawkFailed now, not a second timeout to lint."""
    try:
        done = _run([binary, "--version"], TIMEOUT)
    except SquawkMissing:
        return ""
    return one_line(done.stdout).removeprefix("squawk").strip()


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
    try:
        return [_finding(item, by_name) for item in report]
    except (KeyError, TypeError, ValueError, AttributeError):
        # Another program under squawk's name, or a squawk whose report changed shape.
        shown = one_line(done.stdout)[:200]
        message = f"squawk failed: its report is not one this app reads: {shown}"
        raise SquawkFailed(message) from None


def _finding(item: dict[str, object], by_name: dict[str, int]) -> RawFinding:
    line = item["line"]
    if not isinstance(line, int):
        raise TypeError(line)
    return RawFinding(
        index=by_name[Path(str(item["file"])).name],
        line=line + 1,  # squawk counts lines from 0
        rule=str(item["rule_name"]),
        message=str(item["message"]),
        help=str(item["help"]) if item.get("help") else None,
        level=str(item.get("level", "Warning")).lower(),
    )


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
    """squawk's exit code and output (decoded leniently: garbage is reported, not a
    traceback). It runs in a process group of its own, killed whole on a timeout or an
    interruption: a wrapper's child must not outlive the command, nor hold its pipes."""
    try:
        process = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            # No colours or hyperlinks in what is parsed.
            env={**os.environ, "NO_COLOR": "1"},
            start_new_session=True,
        )
    except OSError as exc:
        raise SquawkMissing(f" ({args[0]}: {exc.strerror})") from None
    try:
        out, err = _communicate(process, stdin, time.monotonic() + timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        raise SquawkFailed(
            f"squawk did not finish within {timeout:g}s; nothing was linted"
        ) from None
    except BaseException:  # Ctrl-C, SIGTERM, too much output
        _kill(process)
        raise
    return subprocess.CompletedProcess(
        args,
        process.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
    )


def _communicate(
    process: subprocess.Popen[bytes], stdin: str | None, deadline: float
) -> tuple[bytes, bytes]:
    """Popen.communicate(), but holding at most MAX_OUTPUT bytes: the output is kept in
    memory to be parsed, and a program that never stops printing must not fill it."""
    if process.stdin is not None:
        with contextlib.suppress(BrokenPipeError):  # a squawk that does not read it
            process.stdin.write((stdin or "").encode("utf-8"))
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
    assert process.stdout is not None and process.stderr is not None
    chunks: dict[int, list[bytes]] = {process.stdout.fileno(): [], process.stderr.fileno(): []}
    total = 0
    with selectors.DefaultSelector() as selector:
        for fd in chunks:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(process.args, 0)
            for key, _ in selector.select(left):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fd)
                    continue
                chunks[key.fd].append(data)
                total += len(data)
                if total > MAX_OUTPUT:
                    raise SquawkFailed(
                        f"squawk failed: it printed more than {MAX_OUTPUT // 2**20} MB, "
                        "which is no report; nothing was linted"
                    )
    process.wait(max(deadline - time.monotonic(), 0))
    out, err = (b"".join(chunks[pipe.fileno()]) for pipe in (process.stdout, process.stderr))
    process.stdout.close()
    process.stderr.close()
    return out, err


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    process.wait()


def _usage_error(stderr: str) -> SqlMigrationsError:
    match = _INVALID_RULE.search(stderr)
    if match:
        return ConfigurationError(
            f"SQLMIGRATIONS_LINT_EXCLUDE names {match['rule']}, which is not a squawk rule"
        )
    return SquawkFailed(f"squawk refused its arguments: {one_line(stderr)}")
