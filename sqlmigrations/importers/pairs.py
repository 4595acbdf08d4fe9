"""golang-migrate and the Node runner: ``N_description.up.sql`` / ``.down.sql`` pairs."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmigrations.importers.base import Conversion, version_problem
from sqlmigrations.vendors.base import Vendor

# golang-migrate's own pattern: {version}_{title}.{up|down}.{extension}
PAIR = re.compile(r"(?P<version>[0-9]+)_(?P<title>.*)\.(?P<direction>up|down)\.(?P<ext>[^.]+)")


def convert(source: Path, vendor: Vendor, runner: str) -> Conversion:
    conversion = Conversion()
    found: dict[int, dict[str, tuple[str, str, str]]] = {}  # version -> direction -> file
    for path in conversion.files(source):
        match = PAIR.fullmatch(path.name)
        if match is None or match["ext"] != "sql":
            conversion.skipped.append((path.name, f"not a {runner} migration file name"))
            continue
        if problem := version_problem(path.name, match["version"]):
            conversion.problems.append(problem)
            continue
        version = int(match["version"])
        other = found.get(version, {}).get(match["direction"])
        if other is not None:
            conversion.problems.append(
                f"{path.name}: version {version} already has a {match['direction']} file "
                f"({other[2]})"
            )
            continue
        text = conversion.read(path)
        if text is None:
            continue
        found.setdefault(version, {})[match["direction"]] = (match["title"], text, path.name)
        found[version].setdefault("prefix", (match["version"], "", ""))
    for version in sorted(found):
        files = found[version]
        if "up" not in files:
            conversion.skipped.append((files["down"][2], "a down file with no up file"))
            continue
        title, text, name = files["up"]
        down = (files["down"][2], files["down"][1]) if "down" in files else None
        conversion.pair(
            files["prefix"][0],
            title,
            (name, text),
            down,
            vendor,
            f"{name} had no down file in {runner}: write this one before rolling it back",
        )
    return conversion
