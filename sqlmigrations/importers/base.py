"""What every importer shares: the files it would write, and the changes a file needs
to run here (a description this app can read, transactions the runner owns)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlmigrations.directives import parse_directives
from sqlmigrations.files import MAX_VERSION, VENDORS
from sqlmigrations.sql import SqlSyntaxError
from sqlmigrations.vendors.base import Vendor

NO_TRANSACTION = "-- sqlmigrate: no-transaction\n"
_BEGINS = frozenset({"BEGIN", "START"})
_ENDS = frozenset({"COMMIT", "END"})


@dataclass
class Output:
    """One file to write, from which source file, and each change made on the way."""

    name: str
    text: str
    source: str
    changes: list[str] = field(default_factory=list)


@dataclass
class Conversion:
    outputs: list[Output] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source name, why)
    problems: list[str] = field(default_factory=list)  # stop the import (exit 2)

    def pair(
        self,
        prefix: str,
        description: str,
        up: tuple[str, str],
        down: tuple[str, str] | None,
        vendor: Vendor,
        missing_down: str,
    ) -> dict[str, Output]:
        """Add a migration's two files: ``up``/``down`` are (source name, text); a
        missing down becomes one that fails with ``missing_down``, never an empty one.
        Returns the files added, by direction."""
        label, renamed = name_for(prefix, description)
        up_out = Output(f"{label}.up.sql", up[1], up[0])
        if down is None:
            down_out = Output(
                f"{label}.down.sql",
                f"-- {missing_down}\n" + vendor.failing_sql(missing_down),
                up[0],
                ["no down migration: this down file fails, saying so, until you write one"],
            )
        else:
            down_out = Output(f"{label}.down.sql", down[1], down[0])
        added = {}
        for direction, output in (("up", up_out), ("down", down_out)):
            if renamed:
                output.changes.insert(0, renamed)
            if self.add(output, vendor):
                added[direction] = output
        return added

    def files(self, source: Path) -> list[Path]:
        """The directory's regular files; anything else (a FIFO, a device, a directory)
        is listed as skipped, never opened, so nothing can hang on it."""
        found = []
        for path in sorted(source.iterdir()):
            if path.name.startswith("."):
                continue
            if path.is_file():
                found.append(path)
            else:
                self.skipped.append((path.name, "not a regular file"))
        return found

    def read(self, path: Path) -> str | None:
        """The file's text, or None with the reason among the problems."""
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            self.problems.append(f"{path.name}: not UTF-8 (byte {exc.start}); save it as UTF-8")
        except OSError as exc:
            self.problems.append(f"{path.name}: cannot be read ({exc.strerror or exc})")
        return None

    def add(self, output: Output, vendor: Vendor) -> bool:
        try:
            output.text, change = own_transactions(output.text, vendor)
        except SqlSyntaxError as exc:
            self.problems.append(f"{output.source}:{exc.line}: {exc.message}")
            return False
        if change:
            output.changes.append(change)
        self.outputs.append(output)
        return True


def version_problem(name: str, digits: str) -> str | None:
    """Why ``digits`` cannot be this app's version (a whole number, 1 to MAX_VERSION)."""
    significant = digits.lstrip("0")
    # Compared by length first: Python refuses int() of a very long string.
    if (
        re.fullmatch(r"[0-9]+", digits)
        and 0 < len(significant) <= 19
        and int(significant) <= MAX_VERSION
    ):
        return None
    return (
        f"{name}: version '{digits}' is not a whole number from 1 to {MAX_VERSION}, as this "
        "app's versions are"
    )


def name_for(prefix: str, description: str) -> tuple[str, str | None]:
    """``prefix_description`` with a description this app reads as written: letters,
    digits, _ and - between single dots, and no vendor name as its last dotted part."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", description.strip())
    cleaned = re.sub(r"\.{2,}", ".", cleaned).strip("._") or "migration"
    head, dot, last = cleaned.rpartition(".")
    if dot and last.lower() in VENDORS:
        cleaned = f"{head}_{last}"
    label = f"{prefix}_{cleaned}"
    if cleaned != description:
        return label, f"description '{description}' written as '{cleaned}'"
    return label, None


def own_transactions(text: str, vendor: Vendor) -> tuple[str, str | None]:
    """A file that begins and commits transactions itself: when the whole file is one
    transaction, its BEGIN and COMMIT are removed (the runner's own transaction takes
    their place); otherwise it becomes a no-transaction file. The vendor's splitter and
    transaction_control find them, so a BEGIN in a function body or a string is none."""
    if parse_directives(text).no_transaction:
        return text, None  # its transactions are its own already (transaction:false)
    statements = vendor.split(text)
    controls = [
        (i, word) for i, s in enumerate(statements) if (word := vendor.transaction_control(s))
    ]
    if not controls:
        outside = [
            f"{what} at line {s.line}"
            for s in statements
            if (what := vendor.outside_transaction_only(s))
        ]
        if outside:
            return NO_TRANSACTION + text, (
                f"made a no-transaction file: {', '.join(outside)} cannot run in a "
                "transaction (the other runner ran it outside one)"
            )
        return text, None
    last = len(statements) - 1
    if (
        len(controls) == 2
        and controls[0][0] == 0
        and controls[0][1] in _BEGINS
        and controls[1][0] == last
        and controls[1][1] in _ENDS
    ):
        first, end = statements[0], statements[last]
        text = _remove(text, end.sql, end.line)
        text = _remove(text, first.sql, first.line)
        return text, (
            f"{controls[0][1]} (line {first.line}) and {controls[1][1]} "
            f"(line {end.line}) removed: the whole file was one transaction, which the "
            "runner now opens and commits itself"
        )
    lines = ", ".join(f"{word} at line {statements[i].line}" for i, word in controls)
    return NO_TRANSACTION + text, (
        f"made a no-transaction file: it manages its own transactions ({lines})"
    )


def _remove(text: str, sql: str, line: int) -> str:
    """Remove one statement (starting on ``line``), its semicolon, and its line when
    nothing else is left on it."""
    line_start = 0
    for _ in range(line - 1):
        line_start = text.index("\n", line_start) + 1
    start = text.index(sql, line_start)
    end = start + len(sql)
    rest = re.match(r"[ \t]*;?", text[end:])
    end += rest.end() if rest else 0
    line_end = text.find("\n", end)
    line_end = len(text) if line_end == -1 else line_end
    if not text[line_start:start].strip() and not text[end:line_end].strip():
        return text[:line_start] + text[line_end + 1 :]
    return text[:start] + text[end:]


def sql_files(source: Path) -> list[Path]:
    return sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith("."))


def peek(path: Path) -> str:
    """The text for recognising a format; a file that cannot be read is reported later."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
