"""dbmate: one file per migration, ``-- migrate:up`` and ``-- migrate:down`` sections,
each with its options (``transaction:false``)."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmigrations.importers.base import NO_TRANSACTION, Conversion, version_problem
from sqlmigrations.vendors.base import Vendor

FILE = re.compile(r"(?P<version>[0-9]+)_?(?P<title>.*)\.sql")
SECTION = re.compile(r"^--[ \t]*migrate:(?P<direction>up|down)(?P<options>[^\n]*)$", re.MULTILINE)


def is_dbmate(text: str) -> bool:
    return SECTION.search(text) is not None


def convert(source: Path, vendor: Vendor) -> Conversion:
    conversion = Conversion()
    versions: dict[int, str] = {}  # version -> the file that has it
    for path in conversion.files(source):
        match = FILE.fullmatch(path.name)
        text = conversion.read(path) if match else ""
        if text is None:
            continue
        sections = list(SECTION.finditer(text))
        if match is None or not sections:
            conversion.skipped.append((path.name, "not a dbmate migration (no '-- migrate:up')"))
            continue
        parts: dict[str, tuple[str, str]] = {}
        notes: dict[str, list[str]] = {}
        for index, section in enumerate(sections):
            end = sections[index + 1].start() if index + 1 < len(sections) else len(text)
            body = text[section.end() : end].strip("\n") + "\n"
            direction = section["direction"]
            if direction in parts:
                # Never a section silently dropped: say so, and let the team merge them.
                conversion.problems.append(
                    f"{path.name}: more than one '-- migrate:{direction}' section"
                )
            notes[direction] = [f"its '-- migrate:{direction}' section"]
            if "transaction:false" in section["options"].split():
                body = NO_TRANSACTION + body
                notes[direction].append("transaction:false: made a no-transaction file")
            parts[direction] = (path.name, body)
        if problem := version_problem(path.name, match["version"]):
            conversion.problems.append(problem)
            continue
        version = int(match["version"])
        if version in versions:
            conversion.problems.append(
                f"{path.name}: version {version} is also {versions[version]}"
            )
            continue
        versions[version] = path.name
        if "up" not in parts:
            conversion.problems.append(f"{path.name}: no '-- migrate:up' section")
            continue
        added = conversion.pair(
            match["version"],
            match["title"],
            parts["up"],
            parts.get("down"),
            vendor,
            f"{path.name} had no '-- migrate:down' section: write this file before rolling it back",
        )
        for direction, output in added.items():
            if direction in parts:
                output.changes[0:0] = notes[direction]
    return conversion
