"""Lint migration files the way the runner will run them (sqlmigrate_lint, sqlmigrate_up).

squawk's rules decide what is dangerous (squawk.py); this module decides how
each file really runs, so that squawk judges it fairly:

- in a transaction (squawk's ``--assume-in-transaction``) unless the file is
  ``-- sqlmigrate: no-transaction``;
- for the target server's PostgreSQL version, when it answers;
- without squawk's timeout rules where the runner itself sets that timeout for
  the file (waits.py: a lock timeout for every transactional migration by
  default, a statement timeout when configured) or the session already has one.

It also applies the files' suppressions::

    -- sqlmigrate: allow require-concurrent-index-creation the table is empty here
    -- sqlmigrate: allow-file ban-drop-table a down file drops what its up file made

``allow`` covers the statement it stands in or before; ``allow-file`` the whole
file. Each needs a reason after its rules: one without is itself a finding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from sqlmigrations import squawk
from sqlmigrations.errors import ConfigurationError
from sqlmigrations.files import SqlFile
from sqlmigrations.sql import SqlSyntaxError, Statement
from sqlmigrations.vendors.base import ServerFacts, Vendor
from sqlmigrations.waits import WaitLimits

ALLOW_RULE = "sqlmigrate-allow"  # the finding for a suppression comment that is wrong
LOCK_RULE = "require-lock-timeout"
STATEMENT_RULE = "require-statement-timeout"
# squawk's older name for both timeout rules, still accepted in a suppression.
ALIASES = {"require-timeout-settings": (LOCK_RULE, STATEMENT_RULE)}
_ALLOW = re.compile(
    r"^[ \t]*--[ \t]*sqlmigrate:[ \t]*(?P<kind>allow-file|allow)(?:[ \t]+(?P<rest>.*))?$",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    rule: str
    message: str
    help: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": display(self.path),
            "line": self.line,
            "rule": self.rule,
            "message": self.message,
            "help": self.help,
        }


@dataclass
class Allow:
    """One ``-- sqlmigrate: allow`` comment."""

    path: Path
    line: int
    rules: tuple[str, ...]
    reason: str
    whole_file: bool
    statement: int | None  # index of the statement it covers (allow), None for allow-file
    used: int = 0

    def covers(self, rule: str, statement: int | None) -> bool:
        names = {r for name in self.rules for r in ALIASES.get(name, (name,))}
        return rule in names and (self.whole_file or statement == self.statement)

    def source(self) -> str:
        """Where, for a finding it suppressed (in the same file)."""
        kind = "allow-file" if self.whole_file else "allow"
        return f"{kind} at line {self.line}: {self.reason or '(no reason given)'}"

    def describe(self) -> str:
        scope = "file" if self.whole_file else "statement"
        return (
            f"{display(self.path)}:{self.line}: allow {','.join(self.rules)} ({scope}): "
            f"{self.reason or '(no reason given)'}"
        )


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    suppressed: list[tuple[Finding, str]] = field(default_factory=list)  # (finding, by what)
    allows: list[Allow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    pg_version: str | None = None
    squawk_version: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.as_dict() for f in self.findings],
            "count": len(self.findings),
            "files": [display(p) for p in self.files],
            "suppressed": [{**f.as_dict(), "by": by} for f, by in self.suppressed],
            "notes": self.notes,
            "pg_version": self.pg_version,
            "squawk_version": self.squawk_version,
        }


def excluded_rules() -> dict[str, str]:
    """SQLMIGRATIONS_LINT_EXCLUDE: ``{rule: reason}`` left out for the whole project."""
    value = getattr(settings, "SQLMIGRATIONS_LINT_EXCLUDE", {}) or {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
    ):
        raise ConfigurationError(
            "SQLMIGRATIONS_LINT_EXCLUDE must be a dict of squawk rule names to the reason "
            'each is left out, e.g. {"ban-char-field": "currency codes are fixed-width"}'
        )
    return value


ON_UP = ("warn", "strict", "off")


def on_up() -> str:
    """SQLMIGRATIONS_LINT_ON_UP: what sqlmigrate_up does with squawk's findings for the
    files it is about to run: "warn" (print them), "strict" (refuse to run), "off"."""
    value = getattr(settings, "SQLMIGRATIONS_LINT_ON_UP", "warn")
    if value not in ON_UP:
        raise ConfigurationError(
            f'SQLMIGRATIONS_LINT_ON_UP must be "warn", "strict" or "off", not {value!r}'
        )
    return str(value)


def lint(
    files: Sequence[SqlFile],
    vendor: Vendor,
    limits: WaitLimits,
    facts: ServerFacts,
    *,
    timeout: float = squawk.TIMEOUT,
) -> Report:
    """squawk's findings for ``files`` (PostgreSQL's), each run as the runner runs it.

    SquawkMissing when squawk is not installed; SquawkFailed when it gives no report.
    """
    binary = squawk.find_squawk()
    report = Report(files=[f.path for f in files], pg_version=facts.version)
    report.squawk_version = squawk.version(binary)
    if facts.unread:
        report.notes.append(f"the server's version was not read ({facts.unread})")
    excluded = excluded_rules()
    report.notes += [f"{rule} is excluded project-wide: {why}" for rule, why in excluded.items()]

    statements = [_statements(vendor, f) for f in files]
    allows = [_allows(f, s) for f, s in zip(files, statements, strict=True)]
    report.allows = [a for file_allows in allows for a in file_allows]

    raw: list[squawk.RawFinding] = []
    for in_transaction in (True, False):  # squawk's flag is per call: at most two calls
        chosen = [i for i, f in enumerate(files) if f.transactional == in_transaction]
        found = squawk.run(
            binary,
            [files[i].text for i in chosen],
            in_transaction=in_transaction,
            pg_version=facts.version,
            exclude=sorted(excluded),
            timeout=timeout,
        )
        raw += [_reindex(r, chosen[r.index]) for r in found]

    skipped = [_timeout_rules_skipped(f, limits, facts) for f in files]
    _note_timeouts(report, files, skipped, excluded)
    for item in sorted(raw, key=lambda r: (r.index, r.line, r.rule)):
        if item.rule in skipped[item.index]:
            continue
        sql_file = files[item.index]
        finding = Finding(sql_file.path, item.line, item.rule, item.message, item.help)
        statement = _statement_at(statements[item.index], item.line)
        allow = next((a for a in allows[item.index] if a.covers(item.rule, statement)), None)
        if allow is None:
            report.findings.append(finding)
        else:
            allow.used += 1
            report.suppressed.append((finding, allow.source()))
    report.findings += _allow_problems(binary, report.allows)
    report.findings.sort(key=lambda f: (str(f.path), f.line, f.rule))
    return report


def _reindex(item: squawk.RawFinding, index: int) -> squawk.RawFinding:
    return squawk.RawFinding(index, item.line, item.rule, item.message, item.help, item.level)


def _statements(vendor: Vendor, sql_file: SqlFile) -> list[tuple[int, int]] | None:
    """(first, last) line of each statement; None when the file cannot be split
    (squawk reports its syntax error)."""
    try:
        found: list[Statement] = vendor.split(sql_file.text)
    except SqlSyntaxError:
        return None
    return [(s.line, s.line + s.sql.count("\n")) for s in found]


def _statement_at(statements: list[tuple[int, int]] | None, line: int) -> int | None:
    """The statement a line belongs to, or the next one after it."""
    for index, (_, last) in enumerate(statements or ()):
        if line <= last:
            return index
    return None


def _allows(sql_file: SqlFile, statements: list[tuple[int, int]] | None) -> list[Allow]:
    allows = []
    for match in _ALLOW.finditer(sql_file.text):
        line = sql_file.text.count("\n", 0, match.start()) + 1
        words = (match["rest"] or "").split(maxsplit=1)
        rules = tuple(r for r in (words[0].split(",") if words else ()) if r)
        whole_file = match["kind"].lower() == "allow-file"
        allows.append(
            Allow(
                path=sql_file.path,
                line=line,
                rules=rules,
                reason=words[1].strip() if len(words) > 1 else "",
                whole_file=whole_file,
                statement=None if whole_file else _statement_at(statements, line),
            )
        )
    return allows


def _allow_problems(binary: str, allows: list[Allow]) -> list[Finding]:
    problems = []
    for allow in allows:
        comment = f"'-- sqlmigrate: {'allow-file' if allow.whole_file else 'allow'}'"
        if not allow.rules:
            problems.append(Finding(allow.path, allow.line, ALLOW_RULE, f"{comment} names no rule"))
        elif not allow.reason:
            problems.append(
                Finding(
                    allow.path,
                    allow.line,
                    ALLOW_RULE,
                    f"{comment} {','.join(allow.rules)} gives no reason",
                    "write why the rule does not apply here after the rule's name",
                )
            )
    names = {r for a in allows for r in a.rules}
    for rule in squawk.unknown_rules(binary, sorted(names)) if names else ():
        for allow in allows:
            if rule in allow.rules:
                problems.append(
                    Finding(
                        allow.path,
                        allow.line,
                        ALLOW_RULE,
                        f"{rule} is not a squawk rule, so this suppresses nothing",
                        "see https://squawkhq.com/docs/rules for the rules' names",
                    )
                )
    return problems


def _timeout_rules_skipped(sql_file: SqlFile, limits: WaitLimits, facts: ServerFacts) -> set[str]:
    """squawk's timeout rules that do not apply to this file: the runner (or the
    session it runs in) already bounds that wait."""
    own = limits.for_file(sql_file)
    skipped = set()
    if _effective(own.lock_timeout, facts.lock_timeout_ms):
        skipped.add(LOCK_RULE)
    if _effective(own.statement_timeout, facts.statement_timeout_ms):
        skipped.add(STATEMENT_RULE)
    return skipped


def _effective(runner: float | None, session_ms: int | None) -> bool:
    """None: the runner leaves the session's own value, which the server told us."""
    if runner is not None:
        return runner > 0
    return bool(session_ms)


def _note_timeouts(
    report: Report, files: Sequence[SqlFile], skipped: list[set[str]], excluded: dict[str, str]
) -> None:
    for rule, what in ((LOCK_RULE, "lock_timeout"), (STATEMENT_RULE, "statement_timeout")):
        if rule in excluded or (excluded.keys() & ALIASES.keys()):
            continue
        count = sum(1 for s in skipped if rule in s)
        if count == len(files):
            report.notes.append(
                f"{rule} not applied: every file runs with a {what} set by the runner "
                "or the session"
            )
        elif count:
            report.notes.append(
                f"{rule} applied to {len(files) - count} of {len(files)} files, those run "
                f"without a {what} (no-transaction files get only their header's)"
            )
        else:
            report.notes.append(f"{rule} applied: the runner sets no {what} for these files")


# Output ----------------------------------------------------------------------


def display(path: Path) -> str:
    """A path as a person (and GitHub) wants it: relative to the working directory."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def text_lines(finding: Finding) -> list[str]:
    lines = [f"{display(finding.path)}:{finding.line}: {finding.rule}: {finding.message}"]
    if finding.help:
        lines.append(f"  help: {finding.help}")
    return lines


def summary(report: Report) -> str:
    count = len(report.findings)
    noun = "finding" if count == 1 else "findings"
    files = len({f.path for f in report.findings})
    linted = len(report.files)
    where = f"in {files} of {linted} file{'s' if linted != 1 else ''}"
    if not count:
        where = f"in {linted} file{'s' if linted != 1 else ''}"
    suppressed = f", {len(report.suppressed)} suppressed" if report.suppressed else ""
    return f"{count} {noun} {where}{suppressed}."


def as_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2)


def github_lines(findings: Iterable[Finding]) -> list[str]:
    """GitHub workflow commands: each finding becomes an annotation on the diff."""
    lines = []
    for finding in findings:
        message = finding.message + (f" Help: {finding.help}" if finding.help else "")
        properties = ",".join(
            (
                f"file={_property(display(finding.path))}",
                f"line={finding.line}",
                f"title={_property(finding.rule)}",
            )
        )
        lines.append(f"::warning {properties}::{_data(message)}")
    return lines


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
