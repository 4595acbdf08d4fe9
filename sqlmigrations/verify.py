"""Is every down file the inverse of its up file? sqlmigrate_verify's procedure.

On a scratch database (Django's test-database name; created and dropped here
unless kept), each migration in order is applied, reverted and applied again
through the executor, exactly as sqlmigrate_up and sqlmigrate_down run it. The
vendor's snapshot of the schema is compared after the down with the one before
the up, and after the second up with the one after the first.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connections

from sqlmigrations.database import get_connection
from sqlmigrations.errors import HistoryMismatch, MigrationFailed, UsageError
from sqlmigrations.executor import Executor
from sqlmigrations.files import Migration
from sqlmigrations.snapshot import Difference, Snapshot, compare
from sqlmigrations.vendors import vendor_for

# When each of the two compared snapshots was taken, per comparison.
MOMENTS = {
    "down": ("before the up file", "after the down file"),
    "up again": ("after the first up", "after the second up"),
}


@dataclass
class Outcome:
    migration: Migration
    # reversible, irreversible, failed (a file did not run), not verified (after a failure)
    status: str = "not verified"
    differences: list[tuple[str, Difference]] = field(default_factory=list)  # (step, what)
    error: str | None = None
    step: str = ""  # the file running, for the error

    def lines(self) -> list[str]:
        found = [d.describe(*MOMENTS[step]) for step, d in self.differences]
        return found + ([self.error] if self.error else [])

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.migration.version,
            "name": self.migration.label,
            "status": self.status,
            "differences": [{"step": step, **d.as_json()} for step, d in self.differences],
            "error": self.error,
        }


@dataclass
class Report:
    database: str
    vendor: str
    scratch: str
    kept: bool
    start: int
    outcomes: list[Outcome]

    @property
    def irreversible(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in ("irreversible", "failed")]


class Verifier:
    def __init__(
        self,
        alias: str,
        *,
        start: int = 0,
        keep: bool = False,
        replace: bool = False,
        on_begin: Callable[[int], None] = lambda _: None,
        on_start: Callable[[Migration], None] = lambda _: None,
        on_outcome: Callable[[Outcome], None] = lambda _: None,
        on_wait: Callable[[str], None] = lambda _: None,
        lock_timeout: float | None = None,
    ):
        self.alias, self.start, self.keep, self.replace = alias, start, keep, replace
        self.on_begin, self.on_start = on_begin, on_start
        self.on_outcome, self.on_wait = on_outcome, on_wait
        self.lock_timeout = lock_timeout
        # Reads and checks every file of both directions before anything is created.
        self.files = Executor(alias)
        self.migrations = self.files.check_files()
        versions = {m.version for m in self.migrations}
        if start and start not in versions:
            known = (
                f"versions {self.migrations[0].version} to {self.migrations[-1].version}"
                if self.migrations
                else "no migration files found"
            )
            raise UsageError(f"--from {start} is not a migration version ({known})")
        self.vendor = vendor_for(get_connection(alias))
        self.scratch = self.vendor.scratch_name()
        configured = str(self.vendor.connection.settings_dict["NAME"])
        if os.path.realpath(self.scratch) == os.path.realpath(configured):  # a file, or a name
            # Its TEST NAME names the database itself: verify would drop it.
            raise UsageError(
                f"the scratch database would be database '{alias}' itself ({self.scratch}): "
                "give its TEST NAME another name; nothing was run"
            )

    def run(self) -> Report:
        outcomes: list[Outcome] = []
        report = Report(self.alias, self.vendor.name, self.scratch, self.keep, self.start, outcomes)
        with self._scratch_executor() as executor, executor.one_by_one():
            # The scratch executor's own reading of the same files.
            outcomes += [Outcome(m) for m in executor.migrations() if m.version > self.start]
            self.on_begin(len(outcomes))
            self._bring_to_start(executor)
            snapshot = executor.database.snapshot()
            for outcome in outcomes:
                self.on_start(outcome.migration)
                try:
                    snapshot = self._verify(executor, outcome, snapshot)
                except MigrationFailed as exc:
                    # What the down file left behind often makes the second up fail.
                    outcome.status = "irreversible" if outcome.differences else "failed"
                    code = f" ({exc.code})" if exc.code else ""
                    outcome.error = "\n".join(
                        [f"the {outcome.step} failed: {exc.location}: {exc.db_message}{code}"]
                        + [f"  {note}" for note in exc.notes]
                    )
                    self.on_outcome(outcome)
                    break  # the database is not what later migrations expect
                self.on_outcome(outcome)
        return report

    def _verify(self, executor: Executor, outcome: Outcome, before: Snapshot) -> Snapshot:
        migration = outcome.migration
        outcome.step = "up file"
        executor.run_one(migration, "up")
        after_up = executor.database.snapshot()
        outcome.step = "down file"
        executor.run_one(migration, "down")
        outcome.differences += [("down", d) for d in compare(before, executor.database.snapshot())]
        outcome.step = "up file's second run"
        executor.run_one(migration, "up")
        after_again = executor.database.snapshot()
        outcome.differences += [("up again", d) for d in compare(after_up, after_again)]
        outcome.status = "irreversible" if outcome.differences else "reversible"
        return after_again

    def _bring_to_start(self, executor: Executor) -> None:
        """A kept scratch database first goes back to --from (newest first, with the
        down files), then every migration up to --from is applied."""
        try:
            back = executor.plan_down(target=self.start)
        except HistoryMismatch as exc:
            raise UsageError(
                f"the kept scratch database {self.scratch} was made from other migration "
                f"files ({'; '.join(exc.problems)}): replace it with --replace"
            ) from exc
        for step in back:
            executor.run_one(step.migration, "down")
        if self.start:
            for step in executor.plan_up(self.start, allow_out_of_order=True):
                executor.run_one(step.migration, "up")

    @contextmanager
    def _scratch_executor(self) -> Iterator[Executor]:
        """An executor on the scratch database, under an alias of its own: the
        configured database's connection never points anywhere else."""
        alias = f"{self.alias}__verify"
        try:
            self.vendor.create_scratch(self.scratch, keep=self.keep, replace=self.replace)
        except KeyboardInterrupt:
            # Ctrl-C may come once the server has made it (psycopg2 raises it only
            # when CREATE DATABASE returns): the interruption says it was dropped.
            # (An error means nothing was made, or it was an earlier run's.)
            if not self.keep:
                with contextlib.suppress(Exception):
                    self.vendor.drop_scratch(self.scratch)
            raise
        settings = copy.deepcopy(self.vendor.connection.settings_dict)
        settings["NAME"] = self.scratch
        connections.settings[alias] = settings
        try:
            yield Executor(
                alias,
                dirs=self.files.dirs,
                lock_timeout=self.lock_timeout,
                progress=lambda p: self.on_wait(p.message) if p.event == "wait" else None,
            )
        finally:
            if hasattr(connections._connections, alias):  # type: ignore[attr-defined]
                connections[alias].close()
                del connections[alias]
            connections.settings.pop(alias, None)
            if not self.keep:
                self.vendor.drop_scratch(self.scratch)
