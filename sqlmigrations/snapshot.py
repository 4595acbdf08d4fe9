"""A database's schema as plain values, and what differs between two of them.

Each vendor reads its catalog into a Snapshot (vendors/pg_verify.py,
vendors/sqlite_verify.py); comparing them is the same for every database.
"""

from __future__ import annotations

from dataclasses import dataclass

# (kind, name) -> definition. Kinds are words a reader knows ("table", "column",
# "function", ...); "rows" holds a table's row count, the one piece of data compared.
Snapshot = dict[tuple[str, str], str]

# Longer definitions (a function's body, a view's query) are not repeated in messages.
SHOWN_DEFINITION = 100


@dataclass(frozen=True)
class Difference:
    kind: str
    name: str
    before: str | None  # None: absent from the first snapshot
    after: str | None  # None: absent from the second

    @property
    def change(self) -> str:
        if self.before is None:
            return "extra"
        return "missing" if self.after is None else "changed"

    def describe(self, first: str, second: str) -> str:
        """One line, with ``first`` and ``second`` naming when each snapshot was taken."""
        if self.kind == "rows":
            return f"rows of table {self.name}: {self.before} {first}, {self.after} {second}"
        what = f"{self.kind} {self.name}"
        if self.after is None:
            return f"missing {second}: {what}{_shown(self.before)} (present {first})"
        if self.before is None:
            return f"extra {second}: {what}{_shown(self.after)} (absent {first})"
        if max(len(self.before), len(self.after)) > SHOWN_DEFINITION:
            return f"changed: {what}: its definition differs {second} from {first}"
        return f"changed: {what}: {self.before!r} {first}, {self.after!r} {second}"

    def as_json(self) -> dict[str, str | None]:
        return {
            "change": self.change,
            "kind": self.kind,
            "name": self.name,
            "before": self.before,
            "after": self.after,
        }


def _shown(definition: str | None) -> str:
    if not definition or len(definition) > SHOWN_DEFINITION:
        return ""
    return f" ({definition})"


def compare(before: Snapshot, after: Snapshot) -> list[Difference]:
    """Every object missing, extra or changed, in a stable order."""
    # A table missing or extra is named once: not its row count, columns,
    # constraints and triggers (named "table.part") too.
    tables = {name for kind, name in before.keys() ^ after.keys() if kind == "table"}
    differences = []
    for key in sorted(before.keys() | after.keys()):
        was, now = before.get(key), after.get(key)
        if was != now and not _part_of(key, tables):
            differences.append(Difference(key[0], key[1], was, now))
    return differences


def _part_of(key: tuple[str, str], tables: set[str]) -> bool:
    kind, name = key
    if kind == "table":
        return False
    if kind == "rows":
        return name in tables
    return any(name.startswith(f"{table}.") for table in tables)
