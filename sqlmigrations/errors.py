"""Every error a user can meet, each with a message written for the terminal.

``exit_code`` follows the runner's contract: 1 when a migration or the database
failed, 2 for bad usage or invalid migration files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

DIRTY_RECOVERY = (
    "To recover: either undo by hand what {label} did, run sqlmigrate_repair to clear "
    "its failed record, then sqlmigrate_up to run it again; or run sqlmigrate_down to "
    "apply its down file (write it to cope with a partial state, e.g. IF EXISTS)."
)


class SqlMigrationsError(Exception):
    exit_code = 1


class UsageError(SqlMigrationsError):
    """An option value the runner cannot act on (unknown target, too many steps...)."""

    exit_code = 2


class ConfigurationError(UsageError):
    pass


class InvalidMigrationFiles(UsageError):
    """The files on disk do not form a valid, ordered set; nothing was run."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class HistoryMismatch(UsageError):
    """Applied migrations whose files changed or vanished since they were applied."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        lines = ["applied migrations no longer match their files:"]
        lines += [f"  {p}" for p in self.problems]
        lines.append(
            "Restore the original files, or accept the files as they are now with "
            "sqlmigrate_repair; nothing was run."
        )
        super().__init__("\n".join(lines))


class FailedMigrationRecorded(UsageError):
    """A no-transaction migration stopped midway; nothing runs until someone decides."""

    def __init__(self, labels: list[str]):
        self.labels = labels
        super().__init__(
            f"{', '.join(labels)} failed midway outside a transaction and may be partly "
            "applied; nothing was run. " + DIRTY_RECOVERY.format(label=labels[-1])
        )


class BackupFailed(SqlMigrationsError):
    pass


class DatabaseUnavailable(SqlMigrationsError):
    pass


class LockTimeout(SqlMigrationsError):
    pass


class MigrationFailed(SqlMigrationsError):
    """A statement failed; the migration was rolled back, earlier ones stay applied."""

    def __init__(
        self,
        *,
        location: str,
        message: str,
        code: str | None,
        done: list[str],
        not_done: list[str],
        verb: str,
        outside_transaction: str | None = None,
        outcome_unknown: str | None = None,  # the connection was lost while it ran
    ):
        self.location = location
        self.db_message = message
        self.code = code
        self.done = done
        self.not_done = not_done
        suffix = f" ({code})" if code else ""
        lines = [f"{location}: {message}{suffix}"]
        lines.append(f"{verb} before the failure: {', '.join(done) or 'none'}.")
        if outside_transaction:
            # The failing one could not be rolled back: say so, and how to recover.
            lines.append(
                f"{outside_transaction} ran outside a transaction (-- sqlmigrate: no-transaction): "
                "its statements before the failing one stay done, and it is recorded as failed."
            )
            lines.append(DIRTY_RECOVERY.format(label=outside_transaction))
            not_done = not_done[1:]
        if outcome_unknown:
            lines.append(
                f"Whether {outcome_unknown} was committed is unknown: the connection was "
                "lost while it ran. sqlmigrate_status shows it."
            )
            not_done = not_done[1:]
        if not_done:
            lines.append(f"Not {verb.lower()} (rolled back or not started): {', '.join(not_done)}.")
        super().__init__("\n".join(lines))


MASK = "********"

# Where a password stands as a credential; the value there is hidden whatever it is, so
# an unusual quoting of the connection's password is covered too. Only the value is
# replaced: the words around it, and the same letters elsewhere, are left as they are.
_CREDENTIALS = [
    # scheme://user:password@host (a URL or DSN)
    re.compile(r"(?P<keep>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)[^\s/?#@]*(?=@)"),
    # password=value, PGPASSWORD=value, ?password=value&...: a libpq conninfo, a URL
    # query string, an environment variable; the value possibly 'quoted \' like this'
    re.compile(
        r"(?P<keep>\b(?:PG)?PASSWORD\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&;'\"]+)", re.IGNORECASE
    ),
    # PASSWORD 'value' (SQL, e.g. CREATE ROLE ... PASSWORD 'x')
    re.compile(r"(?P<keep>\bPASSWORD\s+')(?:[^']|'')*(?=')", re.IGNORECASE),
    # 'PASSWORD': 'value' (a settings dictionary, JSON)
    re.compile(r"(?P<keep>['\"]PASSWORD['\"]\s*:\s*(?P<q>['\"])).*?(?=(?P=q))", re.IGNORECASE),
]


def mask_secrets(text: str, settings_dict: Mapping[str, Any]) -> str:
    """Hide passwords where a driver or Django echoed them as credentials.

    Only credential positions are masked (see ``_CREDENTIALS``): a short password
    is often a word or part of one, and hiding it everywhere would garble the
    message ("relation" with the password "e").
    """
    password = str(settings_dict.get("PASSWORD") or "")
    if password:
        # The connection's own password, as written in a URL, can hold characters
        # the generic pattern stops at ('/', a space): mask it there first.
        for form in {password, quote(password, safe="")}:
            text = re.sub(
                r"(?P<keep>://[^\s/?#@:]*:)" + re.escape(form) + "(?=@)",
                lambda match: match["keep"] + MASK,
                text,
            )
    for pattern in _CREDENTIALS:
        text = pattern.sub(lambda match: match["keep"] + MASK, text)
    return text


class MigrationInterrupted(SqlMigrationsError):
    """Ctrl-C: the migration under way was rolled back by its transaction."""

    exit_code = 130

    def __init__(self, *, current: str, done: list[str], verb: str):
        super().__init__(
            f"interrupted during {current}, which was rolled back. "
            f"{verb} before the interruption: {', '.join(done) or 'none'}."
        )
