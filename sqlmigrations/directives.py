"""``-- sqlmigrate: ...`` lines in a file's header: how the runner runs that file.

    -- sqlmigrate: no-transaction
    -- sqlmigrate: lock-timeout=30s lock-retries=0 statement-timeout=10min

``-- sqlmigrate: allow RULE REASON`` (and ``allow-file``) lines are not directives:
they belong to sqlmigrate_lint (lint.py), may stand anywhere and are skipped here.

The header is the file's leading blank and ``--`` comment lines. A directive
anywhere else, an unknown word or a bad value is a problem reported with the
other file problems (exit 2): a directive silently ignored would run the file
differently from what its author wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlmigrations.waits import MAX_SECONDS

_DIRECTIVE = re.compile(r"--\s*sqlmigrate:(?P<words>.*)", re.IGNORECASE)
# Only lines at the start of a line: a directive's text inside a statement is not one.
# A lint suppression (allow, allow-file) is no directive, wherever it stands.
_DIRECTIVE_ANYWHERE = re.compile(
    r"^[ \t]*--[ \t]*sqlmigrate:(?![ \t]*allow(?:-file)?(?:[ \t]|$))",
    re.IGNORECASE | re.MULTILINE,
)
ALLOW_WORDS = ("allow", "allow-file")
_DURATION = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<unit>ms|s|min|h)?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, None: 1.0}
DURATION_HELP = (
    "a duration such as 5s, 500ms or 2min, at most 24 days (a bare number is seconds; 0 disables)"
)
KNOWN = "no-transaction, lock-timeout=, lock-retries=, statement-timeout="


@dataclass(frozen=True)
class Directives:
    """What a file's header asks for; None: the settings decide."""

    no_transaction: bool = False
    lock_timeout: float | None = None  # seconds
    lock_retries: int | None = None
    statement_timeout: float | None = None  # seconds
    problems: tuple[tuple[int, str], ...] = field(default=())  # (line, message)


def parse_duration(text: str) -> float | None:
    """Seconds in ``5s``, ``500ms``, ``2min``, ``1h`` or ``5`` (seconds); None if invalid."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return None
    seconds = float(match["number"]) * _UNIT_SECONDS[match["unit"]]
    return seconds if seconds <= MAX_SECONDS else None


def parse_directives(text: str) -> Directives:
    values: dict[str, object] = {}
    problems: list[tuple[int, str]] = []
    position, line = 0, 1
    while position < len(text):
        end = text.find("\n", position)
        end = len(text) if end == -1 else end
        stripped = text[position:end].strip()
        if stripped and not stripped.startswith("--"):
            break  # the first statement (or block comment) ends the header
        if (match := _DIRECTIVE.fullmatch(stripped)) and not _is_allow(match["words"]):
            _parse_words(match["words"].split(), line, values, problems)
        position, line = end + 1, line + 1
    for later in _DIRECTIVE_ANYWHERE.finditer(text, position):
        problems.append(
            (
                text.count("\n", 0, later.start()) + 1,
                "'-- sqlmigrate:' directives belong in the file's header (its leading "
                "comment lines, before the first statement); here it would be ignored",
            )
        )
    directives = Directives(problems=tuple(problems), **values)  # type: ignore[arg-type]
    if directives.no_transaction and directives.lock_retries:
        problems.append(
            (
                _line_of_word(text, "lock-retries"),
                f"lock-retries={directives.lock_retries} with no-transaction: a file run "
                "outside a transaction is never retried (its statements commit one by "
                "one); remove lock-retries",
            )
        )
        directives = Directives(problems=tuple(problems), **values)  # type: ignore[arg-type]
    return directives


def _is_allow(words: str) -> bool:
    first = words.split(maxsplit=1)
    return bool(first) and first[0].lower() in ALLOW_WORDS


def _parse_words(
    words: list[str], line: int, values: dict[str, object], problems: list[tuple[int, str]]
) -> None:
    for word in words:
        key, has_value, value = word.partition("=")
        key = key.lower()
        name = key.replace("-", "_")
        if not has_value and key == "no-transaction":
            values["no_transaction"] = True
            continue
        if not has_value or key not in ("lock-timeout", "lock-retries", "statement-timeout"):
            problems.append((line, f"unknown setting '{key}' in '-- sqlmigrate:' (known: {KNOWN})"))
            continue
        if name in values:
            problems.append((line, f"{key} is given twice in the header"))
            continue
        parsed: object
        if key == "lock-retries":
            # ASCII digits ('²'.isdigit() is true), and few enough for int() to read.
            parsed = int(value) if re.fullmatch(r"[0-9]{1,18}", value) else None
            expected = "a whole number of 0 or more (at most 18 digits)"
        else:
            parsed = parse_duration(value)
            expected = DURATION_HELP
        if parsed is None:
            problems.append((line, f"{word}: the value must be {expected}"))
        else:
            values[name] = parsed


def _line_of_word(text: str, word: str) -> int:
    index = text.find(word)
    return text.count("\n", 0, index) + 1 if index != -1 else 1
