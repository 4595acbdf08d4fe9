"""Every error a user can meet, each with a message written for the terminal.

``exit_code`` follows the runner's contract: 1 when a migration or the database
failed, 2 for bad usage or invalid migration files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


# What a failed run left in each direction, for the migrations after those done.
_NOT_DONE = {
    "Applied": "Not applied (rolled back or not started)",
    "Rolled back": "Still applied (its down file failed and was undone, or did not run)",
}


class MigrationFailed(SqlMigrationsError):
    """A statement failed; the migration was rolled back, earlier ones stay applied.

    ``message`` is the database's message; lines after its first (DETAIL, HINT,
    already indented) follow the first line of the error, before the summary.
    ``verb`` is "Applied" (up) or "Rolled back" (down).
    """

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
        first, *notes = message.split("\n")
        self.location = location
        self.db_message = first
        self.notes = [note.strip() for note in notes]  # "DETAIL: ...", "HINT: ..."
        self.code = code
        self.done = done
        self.not_done = not_done
        suffix = f" ({code})" if code else ""
        lines = [f"{location}: {first}{suffix}", *notes]
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
            lines.append(f"{_NOT_DONE[verb]}: {', '.join(not_done)}.")
        super().__init__("\n".join(lines))


NO_TRANSACTION_HINT = (
    "this statement cannot run inside a transaction: put '-- sqlmigrate: no-transaction' "
    "on the file's first line to run the file outside one."
)


@dataclass(frozen=True)
class DatabaseMessage:
    """What the database said about a failed statement, ready for the terminal."""

    text: str  # the primary message, one line
    code: str | None  # "SQLSTATE 23505", or SQLite's error name
    position: int | None = None  # PostgreSQL: 1-based offset of the failing token
    notes: tuple[str, ...] = ()  # "DETAIL: ...", "HINT: ...", each one line

    def lines(self) -> str:
        """The message, then each note on its own indented line."""
        return "\n".join([self.text, *(f"  {note}" for note in self.notes)])


def masked(message: DatabaseMessage, settings_dict: Mapping[str, Any]) -> DatabaseMessage:
    """The same message with the connection's password hidden wherever it stands."""
    return DatabaseMessage(
        text=mask_secrets(message.text, settings_dict),
        code=message.code,
        position=message.position,
        notes=tuple(mask_secrets(note, settings_dict) for note in message.notes),
    )


def one_line(text: str) -> str:
    """Driver messages span lines (hints, context); a terminal error is one line."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


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

    def __init__(
        self,
        *,
        current: str,
        done: list[str],
        verb: str,
        outside_transaction: bool = False,
        # It committed just before the interrupt was seen (None: it cannot be told).
        committed: bool | None = False,
    ):
        before = f"{verb} before the interruption: {', '.join(done) or 'none'}."
        if committed:
            message = (
                f"interrupted just after {current} committed: it is "
                f"{'applied' if verb == 'Applied' else 'rolled back'}. {before}"
            )
        elif committed is None:
            message = (
                f"interrupted during {current}, and whether it committed cannot be told "
                f"(the connection was lost): sqlmigrate_status shows it. {before}"
            )
        elif outside_transaction:
            # Its statements commit one by one: say what is really left.
            message = (
                f"interrupted during {current}, which runs outside a transaction "
                "(-- sqlmigrate: no-transaction): it may be partly applied, and it is "
                f"recorded as failed. {before}\n" + DIRTY_RECOVERY.format(label=current)
            )
        else:
            # Its transaction was rolled back: during a down run, that undid its down file.
            state = (
                "which was rolled back"
                if verb == "Applied"
                else "whose down file was undone: it is still applied"
            )
            message = f"interrupted during {current}, {state}. {before}"
        super().__init__(message)


def scratch_exists(what: str) -> str:
    """sqlmigrate_verify's refusal of a scratch database left behind (any vendor)."""
    return (
        f"the scratch {what} already exists (an earlier run kept it or was killed): "
        "reuse it with --keepdb, or replace it with --replace; nothing was run"
    )
