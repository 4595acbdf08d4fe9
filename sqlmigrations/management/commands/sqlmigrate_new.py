from __future__ import annotations

import re
import unicodedata
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.db import DatabaseError

from sqlmigrations import conf
from sqlmigrations.database import describe, get_connection
from sqlmigrations.errors import SqlMigrationsError, UsageError, one_line
from sqlmigrations.executor import Executor
from sqlmigrations.files import MAX_VERSION, directory_key, load_migrations

from ._base import SqlMigrationsCommand

DEFAULT_WIDTH = 3
MAX_NAME = 60


def safe_name(description: str) -> str:
    """'Add risk profile!' -> 'add_risk_profile': only what the file name rule allows."""
    ascii_text = unicodedata.normalize("NFKD", description).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    return name[:MAX_NAME].rstrip("_")


class Command(SqlMigrationsCommand):
    help = "Write the next pair of empty migration files (NNN_description.up.sql / .down.sql)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("description", help='What the migration does, e.g. "add risk profile".')
        parser.add_argument(
            "--dir",
            type=Path,
            metavar="DIR",
            help="Which migration directory to write to, when the database has several "
            "(default: the last one configured).",
        )

    def run(self, **options: Any) -> None:
        alias = options["database"]
        name = safe_name(options["description"])
        if not name:
            raise UsageError(
                f"cannot make a file name from {options['description']!r}: "
                'use letters or digits, e.g. "add risk profile"'
            )
        dirs = conf.migration_dirs(alias)
        directory = options["dir"] or dirs[-1]
        if directory_key(directory) not in {directory_key(d) for d in dirs}:
            raise UsageError(f"{directory} is not one of the migration directories of '{alias}'")
        # The directory to write to is created if missing (a project's first migration);
        # any other missing directory is still an error.
        create = not directory.exists()
        # Reading the whole set also validates it: never number after a broken set.
        existing = load_migrations(
            [d for d in dirs if not (create and directory_key(d) == directory_key(directory))],
            get_connection(alias).vendor,
        )
        highest = max([m.version for m in existing] + self.applied_versions(alias), default=0)
        if highest >= MAX_VERSION:
            owner = next(
                (m.label for m in existing if m.version == highest),
                f"migration {highest}, applied on the database,",
            )
            raise UsageError(
                f"cannot number a new migration: {owner} already has the largest version "
                f"a migration can have ({MAX_VERSION})"
            )
        version = highest + 1
        width = max((len(m.label.split("_", 1)[0]) for m in existing), default=DEFAULT_WIDTH)
        label = f"{version:0{width}d}_{name}"
        up, down = directory / f"{label}.up.sql", directory / f"{label}.down.sql"
        description = " ".join(options["description"].split())
        if create:
            make_directory(directory)
        try:
            write_pair(
                {
                    up: f"-- {label}: {description}\n\n",
                    down: f"-- {label}: undo {description}\n\n",
                }
            )
        except BaseException:
            if create:
                directory.rmdir()  # empty again: write_pair removed what it wrote
            raise
        if self.verbosity >= 1:
            if create:
                self.stdout.write(f"Created directory {directory}")
            self.stdout.write(f"Created {up}")
            self.stdout.write(f"Created {down}")

    def interrupted_message(self, exc: KeyboardInterrupt) -> str:
        return "interrupted; no migration file was created."

    def applied_versions(self, alias: str) -> list[int]:
        """Versions applied on the database, if it can be read: a version applied from
        another branch, whose files are not here, must not be reused."""
        try:
            executor = Executor(alias)
            if self.verbosity >= 2:
                self.stdout.write(f"Database: {describe(executor.connection)}")
            return [s.version for s in executor.status() if s.applied]
        except (SqlMigrationsError, DatabaseError) as exc:
            if self.verbosity >= 2:
                self.stdout.write(f"Numbering from the files alone: {one_line(str(exc))}")
            return []


def make_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the migration directory {directory}: {exc.strerror}; "
            "no file was created"
        ) from exc


def write_pair(files: dict[Path, str]) -> None:
    """Both files or neither: an up file alone would make the whole set invalid."""
    created: list[Path] = []
    try:
        for path, text in files.items():
            with path.open("x", encoding="utf-8") as file:  # never overwrite a file
                created.append(path)
                file.write(text)
    except BaseException as exc:  # Ctrl-C too
        for path in created:
            path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UsageError(
                f"cannot write {exc.filename}: {exc.strerror}; no file was created"
            ) from exc
        raise
