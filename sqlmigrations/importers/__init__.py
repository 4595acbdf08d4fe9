"""Convert another runner's migrations directory into this app's files.

One module per runner; each returns a Conversion (the files to write, the files
skipped and why, and problems that stop the import).
"""

from __future__ import annotations

from pathlib import Path

from sqlmigrations.errors import UsageError
from sqlmigrations.importers import dbmate, flyway, pairs
from sqlmigrations.importers.base import Conversion, peek, sql_files
from sqlmigrations.vendors.base import Vendor

FORMATS = ("golang-migrate", "dbmate", "flyway", "node")


def convert(source: Path, fmt: str, vendor: Vendor) -> Conversion:
    if fmt == "dbmate":
        return dbmate.convert(source, vendor)
    if fmt == "flyway":
        return flyway.convert(source, vendor)
    return pairs.convert(source, vendor, "golang-migrate" if fmt == "golang-migrate" else "node")


def detect(source: Path) -> str:
    """The format the directory's file names (and dbmate's sections) show; UsageError
    when they show none or more than one."""
    seen: dict[str, str] = {}  # format -> an example file
    for path in sql_files(source):
        if pairs.PAIR.fullmatch(path.name):
            seen.setdefault("golang-migrate or node", path.name)
        elif flyway.is_flyway(path.name):
            seen.setdefault("flyway", path.name)
        elif path.suffix == ".sql" and dbmate.is_dbmate(peek(path)):
            seen.setdefault("dbmate", path.name)
    if len(seen) == 1 and next(iter(seen)) in FORMATS:
        return next(iter(seen))
    choose = f"choose one with --from-format ({' | '.join(FORMATS)})"
    if not seen:
        raise UsageError(f"{source} holds no migration file of a known runner; {choose}")
    if len(seen) == 1:
        raise UsageError(
            f"{source} holds N_description.up.sql / .down.sql files ({seen.popitem()[1]}), "
            f"the layout of both golang-migrate and the Node runner; {choose}"
        )
    examples = ", ".join(f"{fmt} ({name})" for fmt, name in sorted(seen.items()))
    raise UsageError(f"{source} holds files of more than one runner: {examples}; {choose}")
