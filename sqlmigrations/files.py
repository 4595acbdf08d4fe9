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

_NAME_PATTERN = (
    r"(?P<prefix>[0-9]+)_(?P<name>[A-Za-z0-9_-]+)"
    r"(?:\.(?P<vendor>[A-Za-z0-9]+))?\.(?P<direction>up|down)\.sql"
)
# Matched in any letter case, so that a misspelled suffix is reported, not skipped.
_ANY_CASE_NAME = re.compile(_NAME_PATTERN, re.IGNORECASE)
NAME_RULE = (
    "NNN_description.up.sql / NNN_description.down.sql (description: letters, digits, _ or -)"
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


@dataclass(frozen=True)
class Migration:
    version: int
    label: str  # the file stem shared by up and down, e.g. 001_initial_schema
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
    vendor = match["vendor"]
    if vendor is not None and vendor.lower() not in VENDORS:
        problems.append(
            f"{path}: unknown database vendor '{vendor}' (one of {', '.join(sorted(VENDORS))})"
        )
        return None
    spelled = _spelled(match)
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
        label=f"{prefix}_{match['name']}",
        vendor=vendor,
        direction=match["direction"],
    )


def _spelled(match: re.Match[str]) -> str:
    vendor = f".{match['vendor'].lower()}" if match["vendor"] else ""
    return f"{match['prefix']}_{match['name']}{vendor}.{match['direction'].lower()}.sql"


def _build(
    version: int, group: list[_Candidate], vendor: str, problems: list[str]
) -> Migration | None:
    labels = sorted({c.label for c in group})
    if len(labels) > 1:
        paths = ", ".join(str(c.path) for c in group)
        problems.append(f"version {version} is used by more than one migration: {paths}")
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
    up_slot = slots.get((vendor, "up")) or slots.get((None, "up"))
    down_slot = slots.get((vendor, "down")) or slots.get((None, "down"))
    if up_slot is None or down_slot is None:
        problems.append(
            f"version {version} ({labels[0]}) has no file for {vendor}: "
            f"add {labels[0]}.up.sql or {labels[0]}.{vendor}.up.sql"
        )
        return None
    up = _read(up_slot.path, problems)
    down = _read(down_slot.path, problems)
    if up is None or down is None:
        return None
    return Migration(version=version, label=labels[0], up=up, down=down)


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
