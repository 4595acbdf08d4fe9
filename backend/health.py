"""What /health/ reports, and the migration files it reads only when they change.

A load balancer asks every few seconds; reading and hashing every migration file each
time would cost more with every migration ever written. The files are read again only
when a directory's listing or a file's size, mtime or inode changes (one stat per file,
as make or rsync decide). An edit that keeps all three (in place, within the clock's
resolution, mtime put back) goes unseen until the next change or restart;
sqlmigrate_status always reads everything.

Anonymous callers see versions and kinds of problem only: no path, no file name, no
message (a syntax error quotes the file). Staff see the details too, as sqlmigrate_status
prints them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from django.db import Error as DatabaseError

from sqlmigrations.errors import SqlMigrationsError
from sqlmigrations.executor import Executor, MigrationState, pending_versions, problem_lines
from sqlmigrations.files import Migration, find_migrations
from sqlmigrations.planner import Planner

Fingerprint = tuple[tuple[str, tuple[Any, ...]], ...]
# (vendor, dirs) -> (fingerprint, migrations, problems), one entry per configuration.
_files: dict[tuple[str, tuple[str, ...]], tuple[Fingerprint, list[Migration], list[str]]] = {}


def fingerprint(dirs: list[Path]) -> Fingerprint:
    """Every entry of every directory with its size, mtime and inode (targets of symlinks)."""
    entries: list[tuple[str, tuple[Any, ...]]] = []
    for directory in dirs:
        try:
            with os.scandir(directory) as listing:
                for entry in listing:
                    try:
                        st = entry.stat()
                        entries.append((entry.path, (st.st_size, st.st_mtime_ns, st.st_ino)))
                    except OSError as exc:
                        entries.append((entry.path, ("error", exc.errno)))
        except OSError as exc:
            entries.append((str(directory), ("error", exc.errno)))
    return tuple(sorted(entries))


class CachedFilesExecutor(Executor):
    """The executor, reading the files through the cache above for status()."""

    def _load(self, direction: str | None = None) -> Planner:
        if self._planner is None and direction is None:
            key = (self.vendor, tuple(str(d) for d in self.dirs))
            seen = fingerprint(self.dirs)
            cached = _files.get(key)
            if cached is None or cached[0] != seen:
                migrations, problems = find_migrations(self.dirs, self.vendor)
                cached = _files[key] = (seen, migrations, problems)
            self._planner = Planner(cached[1], self.database, self.skipped)
            self._file_problems = list(cached[2])
        return super()._load(direction)


def kind(exc: BaseException) -> str:
    """An error's class as a word: InvalidMigrationFiles -> invalid_migration_files."""
    if isinstance(exc, DatabaseError):
        return "database_unavailable"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def problem_kinds(state: MigrationState) -> list[str]:
    """The kinds of the state's problems (planner._problems says them in words)."""
    record, migration = state.record, state.migration
    if record is None:
        return []
    kinds = []
    if migration is None:
        kinds.append("files_missing")
    elif migration.checksum != record.checksum:
        kinds.append("checksum_differs")
    if record.dirty:
        kinds.append("failed_midway")
    return kinds


def report(database: str, *, details: bool) -> tuple[dict[str, Any], int]:
    """The health body and status: 200 when every migration is applied, 503 otherwise."""
    try:
        states = CachedFilesExecutor(database).status()
    except (SqlMigrationsError, DatabaseError) as exc:
        body: dict[str, Any] = {"status": "error", "error": kind(exc)}
        if details:
            body["details"] = str(exc) if isinstance(exc, SqlMigrationsError) else None
        return body, 503
    pending = pending_versions(states)
    problems = [{"version": s.version, "kind": k} for s in states for k in problem_kinds(s)]
    healthy = not pending and not problems
    body = {
        "status": "ok" if healthy else "migrations_needed",
        "pending": pending,
        "problems": problems,
    }
    if details:
        body["details"] = problem_lines(states)
    return body, 200 if healthy else 503
