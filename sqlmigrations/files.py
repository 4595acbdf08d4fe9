"""Find NNN_name.up.sql / NNN_name.down.sql files and validate them as one ordered set.

Everything here works on files alone, so every problem is reported before the
database is touched.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from sqlmigrations.directives import Directives, parse_directives
from sqlmigrations.errors import InvalidMigrationFiles

# Vendors as Django names them (connection.vendor).
VENDORS = frozenset({"postgresql", "sqlite", "mysql", "oracle"})

# The description may hold dots (``v6.0``), as other runners allow; its last dotted part
# is a vendor variant only when it names a known vendor (see _split_vendor).
_NAME_PATTERN = (
    r"(?P<prefix>[0-9]+)_(?P<name>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)"
    r"\.(?P<direction>up|down)\.sql"
)
# Matched in any letter case, so that a misspelled suffix is reported, not skipped.
_ANY_CASE_NAME = re.compile(_NAME_PATTERN, re.IGNORECASE)
NAME_RULE = (
    "NNN_description.up.sql / NNN_description.down.sql "
    "(description: letters, digits, _, - and dots between them)"
)
# The history's version column is a signed 64-bit integer (bigint) on every database.
MAX_VERSION = 2**63 - 1


@dataclass(frozen=True)
class SqlFile:
    path: Path
    text: str

    @cached_property
    def checksum(self) -> str:
        return checksum(self.text)

    @cached_property
    def directives(self) -> Directives:
        return parse_directives(self.text)

    @property
    def transactional(self) -> bool:
        return not self.directives.no_transaction

    @property
    def variant(self) -> str | None:
        """The vendor this file is a variant for (``001_x.sqlite.up.sql``), or None."""
        stem = self.path.name.rsplit(".", 2)[0]  # without .up.sql / .down.sql
        return _split_vendor(stem)[1]


@dataclass(frozen=True)
class Migration:
    version: int
    # The up file's stem without a vendor, e.g. 001_initial_schema; the down file's
    # description may differ, as golang-migrate pairs files by version alone.
    label: str
    up: SqlFile
    down: SqlFile

    @property
    def checksum(self) -> str:
        return self.up.checksum

    def __str__(self) -> str:
        return self.label


def checksum(text: str) -> str:
    # Line endings are normalised so a checkout with CRLF does not look like drift.
    normalised = text.replace("\r\n", "\n").encode("utf-8")
    return hashlib.sha256(normalised).hexdigest()


@dataclass(frozen=True)
class _Candidate:
    path: Path
    version: int
    label: str
    vendor: str | None
    direction: str


def load_migrations(dirs: Sequence[Path], vendor: str) -> list[Migration]:
    """Every migration in ``dirs`` for ``vendor``, sorted by version.

    Raises InvalidMigrationFiles listing every problem found, so a user fixes them
    in one go rather than one per run.
    """
    migrations, problems = find_migrations(dirs, vendor)
    if problems:
        raise InvalidMigrationFiles(problems)
    return migrations


def find_migrations(dirs: Sequence[Path], vendor: str) -> tuple[list[Migration], list[str]]:
    """The valid migrations in ``dirs`` and a line per problem with the others."""
    problems: list[str] = []
    candidates: list[_Candidate] = []
    for directory in distinct_dirs(dirs):
        if not directory.is_dir():
            problems.append(f"migrations directory {directory} does not exist")
            continue
        for path in sorted(directory.iterdir()):
            if not _is_migration_name(path.name):
                continue
            candidate = _candidate(path, problems)
            if candidate is not None:
                candidates.append(candidate)

    by_version: dict[int, list[_Candidate]] = {}
    for candidate in candidates:
        by_version.setdefault(candidate.version, []).append(candidate)

    migrations: list[Migration] = []
    for version in sorted(by_version):
        group = by_version[version]
        migration = _build(version, group, vendor, problems)
        if migration is not None:
            migrations.append(migration)
    return migrations, problems


def distinct_dirs(dirs: Iterable[Path]) -> list[Path]:
    """``dirs`` with each directory once, however it is spelled (trailing slash,
    relative or absolute, through a symlink), in the order first configured."""
    seen: set[Path] = set()
    unique = []
    for directory in dirs:
        key = directory_key(directory)
        if key not in seen:
            seen.add(key)
            unique.append(directory)
    return unique


def directory_key(directory: Path) -> Path:
    """What identifies a directory, whatever the spelling."""
    try:
        return directory.resolve()
    except (OSError, RuntimeError):  # a symlink loop: it cannot be a directory anyway
        return directory.absolute()


def _is_migration_name(name: str) -> bool:
    """Whether a file in a migrations directory is read as a migration.

    Hidden files (``.name``: editor swap and lock files) and names not ending in
    ``.sql`` (``.bak``, ``~``, ``.orig``, a README) are someone's leftovers. A
    ``.sql`` name in any letter case or with spaces around it is meant as a
    migration, so it is read, and refused if misspelled, rather than skipped.
    """
    return not name.startswith(".") and name.strip().lower().endswith(".sql")


def _candidate(path: Path, problems: list[str]) -> _Candidate | None:
    match = _ANY_CASE_NAME.fullmatch(path.name.strip())
    if match is None:
        problems.append(f"{path}: bad file name, expected {NAME_RULE}")
        return None
    name, vendor = _split_vendor(match["name"])
    spelled = f"{match['prefix']}_{name}{_suffix(vendor)}.{match['direction'].lower()}.sql"
    if path.name != spelled:
        problems.append(f"{path}: misspelled migration file name, rename it to {spelled}")
        return None
    prefix = match["prefix"]
    digits = prefix.lstrip("0")
    # Compared as digits first: Python refuses int() of a very long string.
    version = int(digits or "0") if len(digits) <= len(str(MAX_VERSION)) else MAX_VERSION + 1
    if version == 0:
        problems.append(
            f"{path}: version 0 is not allowed: --target 0 means before every migration, "
            "so number migrations from 1"
        )
        return None
    if version > MAX_VERSION:
        problems.append(
            f"{path}: version {prefix} is too large: a version is stored as a 64-bit "
            f"integer, at most {MAX_VERSION}"
        )
        return None
    return _Candidate(
        path=path,
        version=version,
        label=f"{prefix}_{name}",
        vendor=vendor,
        direction=match["direction"],
    )


def _split_vendor(name: str) -> tuple[str, str | None]:
    """``move.sqlite`` -> (``move``, ``sqlite``); ``v6.0`` -> (``v6.0``, None).

    Only a known vendor name, in any letter case (so ``.SQLite`` is reported as
    misspelled), makes the last dotted part a variant: any other belongs to the
    description.
    """
    description, dot, last = name.rpartition(".")
    if dot and last.lower() in VENDORS:
        return description, last.lower()
    return name, None


def _suffix(vendor: str | None) -> str:
    return f".{vendor}" if vendor else ""


def _build(
    version: int, group: list[_Candidate], vendor: str, problems: list[str]
) -> Migration | None:
    # One name per direction; the up file's is the migration's (an up and a down file
    # whose descriptions differ are one migration, as golang-migrate pairs them).
    names: dict[str, str] = {}
    for direction in ("up", "down"):
        files = [c for c in group if c.direction == direction]
        if len({c.label for c in files}) > 1:
            problems.append(_two_names(version, direction, files))
        elif files:
            names[direction] = files[0].label
    if len(names) < len({c.direction for c in group}):
        return None
    slots: dict[tuple[str | None, str], _Candidate] = {}
    for candidate in group:
        key = (candidate.vendor, candidate.direction)
        if key in slots:
            problems.append(
                f"version {version} has two files for the same slot: "
                f"{slots[key].path} and {candidate.path}"
            )
            return None
        slots[key] = candidate
    # Every file needs its other direction: from its own vendor, or the generic one
    # (a DROP TABLE down file usually serves every vendor).
    ok = True
    for file_vendor, direction in slots:
        other = "down" if direction == "up" else "up"
        if (file_vendor, other) not in slots and (None, other) not in slots:
            path = slots[(file_vendor, direction)].path
            problems.append(f"{path} has no matching .{other}.sql file")
            ok = False
    if not ok:
        return None
    label = names["up"]
    up_slot = slots.get((vendor, "up")) or slots.get((None, "up"))
    down_slot = slots.get((vendor, "down")) or slots.get((None, "down"))
    if up_slot is None or down_slot is None:
        problems.append(_no_file_for(version, label, vendor, {v for v, _ in slots}))
        return None
    up = _read(up_slot.path, problems)
    down = _read(down_slot.path, problems)
    if up is None or down is None:
        return None
    return Migration(version=version, label=label, up=up, down=down)


def _two_names(version: int, direction: str, files: list[_Candidate]) -> str:
    paths = ", ".join(str(c.path) for c in files)
    start = f"version {version} is used by more than one migration: its {direction} files"
    if len({c.label.split("_", 1)[1] for c in files}) == 1:  # 001_a and 1_a
        return f"{start} write the version differently ({paths})"
    return (
        f"{start} have different descriptions ({paths}); an up and a down file may "
        f"differ, two {direction} files may not"
    )


def _no_file_for(version: int, label: str, vendor: str, vendors: set[str | None]) -> str:
    message = (
        f"version {version} ({label}) has no file for {vendor}: "
        f"add {label}.up.sql or {label}.{vendor}.up.sql"
    )
    # Only variants for other vendors: golang-migrate would read '.sqlite' as part of
    # the description, so say which reading this is and how to get the other.
    others = sorted(v for v in vendors if v is not None)
    if len(others) == 1:
        other = others[0]
        message += (
            f"; '.{other}' before .up.sql marks a variant for {other} only: if it is "
            f"part of the description, rename the files (e.g. {label}_{other}.up.sql)"
        )
    return message


def _read(path: Path, problems: list[str]) -> SqlFile | None:
    try:
        # A FIFO blocks the read until someone writes, a device (a symlink to
        # /dev/zero) never ends: only regular files are read, symlinks followed.
        path.stat()  # a dangling symlink, a denied directory: the reason is reported
        if not path.is_file():
            problems.append(f"{path}: not a regular file")
            return None
        data = path.read_bytes()
    except OSError as exc:
        problems.append(f"{path}: cannot be read ({exc.strerror})")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problems.append(f"{path}:{line}: not valid UTF-8 (byte {exc.start + 1} of the file)")
        return None
    return SqlFile(path=path, text=text.removeprefix("\ufeff"))


def read_sql_files(paths: Iterable[Path]) -> list[SqlFile]:
    """Files named on a command line, read as the runner reads migrations (UTF-8,
    regular files only); InvalidMigrationFiles listing every one that cannot be."""
    problems: list[str] = []
    files = [f for f in (_read(p, problems) for p in paths) if f is not None]
    if problems:
        raise InvalidMigrationFiles(problems)
    return files


def variant_of(path: Path) -> str | None:
    """The vendor a migration file name is a variant for (``x.sqlite.up.sql``), if any."""
    match = _ANY_CASE_NAME.fullmatch(path.name.strip())
    return _split_vendor(match["name"])[1] if match else None
