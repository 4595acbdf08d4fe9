"""Flyway: ``V1__description.sql`` up files, ``U1__description.sql`` undo files when the
team wrote them, ``R__`` repeatable files (not imported: they have no version), and
``executeInTransaction=false`` in a ``.sql.conf`` file or the script's own header."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmigrations.importers.base import NO_TRANSACTION, Conversion, version_problem
from sqlmigrations.vendors.base import Vendor

FILE = re.compile(r"(?P<kind>[VUR])(?P<version>[^_]*)__(?P<title>.*)\.sql")
NO_TRANSACTION_SETTING = re.compile(r"executeInTransaction\s*=\s*false", re.IGNORECASE)


def is_flyway(name: str) -> bool:
    return FILE.fullmatch(name) is not None


def convert(source: Path, vendor: Vendor) -> Conversion:
    conversion = Conversion()
    ups: dict[int, tuple[str, str, str]] = {}  # version -> (title, name, text)
    undos: dict[int, tuple[str, str]] = {}
    outside: set[str] = set()  # files Flyway runs outside a transaction
    for path in conversion.files(source):
        if path.name.endswith(".sql.conf"):
            continue  # read with its script
        match = FILE.fullmatch(path.name)
        if match is None:
            conversion.skipped.append((path.name, "not a Flyway migration file name"))
            continue
        if match["kind"] == "R":
            conversion.skipped.append(
                (path.name, "a repeatable migration: it has no version, so it is not imported")
            )
            continue
        if problem := version_problem(path.name, match["version"]):
            conversion.problems.append(problem)
            continue
        version = int(match["version"])
        # V5 and V05 are one version: Flyway refuses the pair, and one must not vanish here.
        same = ups[version][1] if match["kind"] == "V" and version in ups else None
        same = undos[version][0] if match["kind"] == "U" and version in undos else same
        if same is not None:
            conversion.problems.append(f"{path.name}: version {version} is also {same}")
            continue
        text = conversion.read(path)
        conf = path.with_name(path.name + ".conf")
        settings = conversion.read(conf) if conf.is_file() else ""
        if text is None or settings is None:
            continue
        no_transaction = NO_TRANSACTION_SETTING.search(settings + _header(text))
        if no_transaction:
            text = NO_TRANSACTION + text
            outside.add(path.name)
        if match["kind"] == "V":
            ups[version] = (match["title"], path.name, text)
        else:
            undos[version] = (path.name, text)
    for version in sorted(undos.keys() - ups.keys()):
        conversion.skipped.append((undos[version][0], "an undo file with no V file"))
    width = max(3, len(str(max(ups, default=0))))
    for version, (title, name, text) in sorted(ups.items()):
        added = conversion.pair(
            f"{version:0{width}d}",
            title,
            (name, text),
            undos.get(version),
            vendor,
            f"{name} had no Flyway undo file (U{version}__{title}.sql): write this down file "
            "before rolling it back",
        )
        for output in added.values():
            if output.source in outside and output.text.startswith(NO_TRANSACTION):
                output.changes.insert(0, "executeInTransaction=false: made a no-transaction file")
    return conversion


def _header(text: str) -> str:
    """Flyway's script configuration: ``-- flyway:executeInTransaction=false`` lines."""
    return "\n".join(re.findall(r"^--\s*flyway:(.*)$", text, re.MULTILINE))
