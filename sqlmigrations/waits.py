"""How long a migration may wait for other sessions, and how often it is tried again.

A migration waiting for a table lock also makes every later request for that
table queue behind it (on PostgreSQL, an ALTER TABLE's ACCESS EXCLUSIVE request
blocks every reader of the table while it waits). So each attempt waits a short
time, then gives up, pauses to let that traffic through, and the whole migration
is tried again: it is one transaction, so a failed attempt left nothing behind.

These are the migration's own waits. The wait for another runner is the run
lock's (``--lock-timeout``), a different setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmigrations.files import SqlFile

# Both databases take these limits as a C int of milliseconds: about 24.8 days.
MAX_SECONDS = (2**31 - 1) / 1000
FIRST_PAUSE = 1.0  # seconds; shorter when the attempts themselves are shorter
MAX_PAUSE = 30.0


@dataclass(frozen=True)
class WaitLimits:
    """None leaves the session's own value (the role's, the database's, OPTIONS');
    0 disables the limit."""

    lock_timeout: float | None  # seconds one attempt may wait for a lock
    lock_retries: int  # attempts after the first; only transactional files are retried
    statement_timeout: float | None  # seconds one statement may run (PostgreSQL)

    @property
    def attempts(self) -> int:
        return self.lock_retries + 1

    def for_file(self, sql_file: SqlFile) -> WaitLimits:
        """The settings, overridden by the file's ``-- sqlmigrate:`` header.

        A no-transaction file cannot be retried (its statements commit one by
        one), and a timeout cancelling one of its statements can leave work half
        done (an INVALID index after CREATE INDEX CONCURRENTLY): it gets only the
        limits its own header sets.
        """
        directives = sql_file.directives
        if not sql_file.transactional:
            return WaitLimits(directives.lock_timeout, 0, directives.statement_timeout)
        return WaitLimits(
            self.lock_timeout if directives.lock_timeout is None else directives.lock_timeout,
            self.lock_retries if directives.lock_retries is None else directives.lock_retries,
            self.statement_timeout
            if directives.statement_timeout is None
            else directives.statement_timeout,
        )

    def pause(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): doubling."""
        first = min(self.lock_timeout or FIRST_PAUSE, FIRST_PAUSE)
        return float(min(first * 2 ** (attempt - 1), MAX_PAUSE))

    def gave_up(self, attempts: int, *, timed_out: bool = True) -> str:
        noun = "attempt" if attempts == 1 else "attempts"
        each = f" of {seconds(self.lock_timeout)}" if self.lock_timeout and timed_out else ""
        return f"gave up after {attempts} {noun}{each}"


def seconds(value: float) -> str:
    return f"{value:g}s"


def milliseconds(value: float) -> int:
    """For the database's settings: never 0 for a positive value (0 would disable it)."""
    return max(1, round(value * 1000)) if value > 0 else 0
