from __future__ import annotations

import contextlib
import re
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from sqlmigrations import conf, importers
from sqlmigrations.database import get_connection
from sqlmigrations.errors import ConfigurationError, InvalidMigrationFiles, UsageError
from sqlmigrations.importers.base import Conversion
from sqlmigrations.vendors import vendor_for

from ._base import SqlMigrationsCommand

_VERSION = re.compile(r"([0-9]+)_.*\.(up|down)\.sql")


class Command(SqlMigrationsCommand):
    help = (
        "Convert another runner's migrations directory (golang-migrate, dbmate, Flyway, "
        "the Node runner) into NNN_description.up.sql / .down.sql files, keeping versions, "
        "order and directives. Run it once; it never overwrites a file."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("source", type=Path, help="The other runner's migrations directory.")
        parser.add_argument(
            "--from-format",
            choices=importers.FORMATS,
            help="The other runner (default: recognised from the file names; an error when "
            "they fit more than one).",
        )
        parser.add_argument(
            "--to",
            type=Path,
            metavar="DIR",
            help="Where to write the files (default: the database's one migrations "
            "directory from SQLMIGRATIONS_DIRS).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print what would be written, and each change and skipped file; write nothing.",
        )

    def run(self, **options: Any) -> None:
        source: Path = options["source"]
        if not source.is_dir():
            raise UsageError(f"{source} is not a directory")
        alias = options["database"]
        vendor = vendor_for(get_connection(alias))  # its SQL dialect; nothing connects
        target = options["to"] or _configured_dir(alias)
        fmt = options["from_format"] or importers.detect(source)
        conversion = importers.convert(source, fmt, vendor)
        if conversion.problems:
            raise InvalidMigrationFiles(conversion.problems)
        _refuse_non_directory(target)
        _refuse_collisions(conversion, target, _merged_with(alias, target))
        if self.verbosity >= 1:
            self._report(conversion, fmt, source, target, dry_run=options["dry_run"])
        if options["dry_run"]:
            return
        _write(conversion, target)
        if self.verbosity >= 1:
            self.stdout.write(f"Wrote {len(conversion.outputs)} files to {target}.")

    def interrupted_message(self, exc: KeyboardInterrupt) -> str:
        return "interrupted; no file was written (any written by this run were removed)."

    def _report(
        self, conversion: Conversion, fmt: str, source: Path, target: Path, *, dry_run: bool
    ) -> None:
        verb = "Would write (dry run, nothing is written)" if dry_run else "Writing"
        self.stdout.write(f"{verb}: {fmt} migrations from {source} to {target}:")
        for output in conversion.outputs:
            origin = f" <- {output.source}" if output.source != output.name else ""
            self.stdout.write(f"  {output.name}{origin}")
            for change in output.changes:
                self.stdout.write(f"      {change}")
            if dry_run and self.verbosity >= 2:
                self.stdout.write(output.text.rstrip("\n"))
        if conversion.skipped:
            self.stdout.write("Not imported:")
            for name, why in conversion.skipped:
                self.stdout.write(f"  {name}: {why}")


def _write(conversion: Conversion, target: Path) -> None:
    """All the files or none: on any failure (or Ctrl-C) those this run wrote go again,
    and so do the directories it made for them."""
    written: list[Path] = []
    made = [d for d in (target, *target.parents) if not d.exists()][::-1]
    created: list[Path] = []
    try:
        for directory in made:
            directory.mkdir()
            created.append(directory)
        for output in conversion.outputs:
            path = target / output.name
            # "x": an existing file is never overwritten, even one made meanwhile.
            with open(path, "x", encoding="utf-8") as handle:
                written.append(path)
                handle.write(output.text)
    except BaseException as exc:
        for path in written:
            path.unlink(missing_ok=True)
        for directory in reversed(created):
            with contextlib.suppress(OSError):
                directory.rmdir()
        if isinstance(exc, OSError):
            # Nothing was written: bad input (a read-only directory, a name too long).
            raise UsageError(
                f"cannot write {exc.filename or target}: {exc.strerror or exc}; no file was written"
            ) from exc
        raise


def _refuse_non_directory(target: Path) -> None:
    """A target (or the nearest of its parents that exists) that is a file or a
    dangling symlink is refused before anything is listed as being written."""
    for path in (target, *target.parents):
        if path.is_dir():
            return
        if path.exists() or path.is_symlink():
            raise UsageError(f"{path} is not a directory; nothing was written")


def _configured_dir(alias: str) -> Path:
    dirs = conf.migration_dirs(alias)
    if len(dirs) != 1:
        raise UsageError(
            f"database '{alias}' has {len(dirs)} migrations directories in the settings; "
            "say which one to write to with --to DIR"
        )
    return dirs[0]


def _merged_with(alias: str, target: Path) -> list[Path]:
    """The database's other directories when ``target`` is one of them: the runner
    merges them into one set, so a version taken in any of them is taken."""
    try:
        dirs = conf.migration_dirs(alias)
    except ConfigurationError:
        return []
    resolved = target.resolve()
    if all(d.resolve() != resolved for d in dirs):
        return []
    return [d for d in dirs if d.resolve() != resolved]


def _refuse_collisions(conversion: Conversion, target: Path, others: list[Path]) -> None:
    """Nothing is written when any file exists, or a version is already taken there (or
    in a directory merged with it)."""
    taken: dict[int, tuple[str, Path]] = {}
    existing: set[str] = set()
    for directory in (target, *others):
        if not directory.is_dir():
            continue
        names = {p.name for p in directory.iterdir()}
        if directory == target:
            existing = names
        for name in sorted(names):
            if (m := _VERSION.fullmatch(name)) is not None:
                taken.setdefault(int(m[1]), (name, directory))
    problems = []
    for output in conversion.outputs:
        version = int(output.name.split("_", 1)[0])
        if output.name in existing:
            problems.append(f"{target / output.name}: already exists; nothing was written")
        elif version in taken:
            name, directory = taken[version]
            problems.append(
                f"{output.name}: version {version} is already {name} in {directory}; "
                "nothing was written"
            )
    if problems:
        raise UsageError("\n".join(problems))
