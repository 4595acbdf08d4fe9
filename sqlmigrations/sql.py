"""Split a migration file into statements, keeping the line each one starts on.

Each vendor's own rules decide where a statement ends: pglast wraps the
PostgreSQL server's parser; for SQLite, the state machine of SQLite's
``sqlite3_complete()`` is followed token by token. Neither is fooled by
semicolons inside literals, comments, ``$tag$`` bodies or trigger bodies, which
a hand-written splitter (or sqlparse) gets wrong.

Both run in time linear in the file's size, and the parse tree PostgreSQL's
check builds is held for one piece of the file at a time, not for all of it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    line: int  # 1-based line of the statement's first token in its file


class SqlSyntaxError(Exception):
    def __init__(self, line: int, message: str):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


def refuse_nul(text: str) -> None:
    nul = text.find("\0")
    if nul != -1:
        # Neither database takes one in SQL text, and pglast reads the text as a C
        # string: it would silently leave out every statement after it.
        raise SqlSyntaxError(
            line_of(text, nul), "a NUL character (\\0), which SQL text cannot hold"
        )


def split_statements(text: str, vendor: str) -> list[Statement]:
    """For tests and tools: the vendor modules call their splitter themselves."""
    refuse_nul(text)
    if vendor == "postgresql":
        return _split_postgresql(text)
    return _split_sqlite(text)


def line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


class _Lines:
    """Line numbers of ever later positions in one text, each newline counted once.

    Counting from the start for every statement made splitting quadratic.
    """

    def __init__(self, text: str):
        self.text = text
        self.counted_to = 0
        self.line = 1

    def at(self, index: int) -> int:
        if index < self.counted_to:
            return line_of(self.text, index)
        self.line += self.text.count("\n", self.counted_to, index)
        self.counted_to = index
        return self.line


# PostgreSQL ---------------------------------------------------------------------

# The parser is given a file in pieces of about this many characters: its parse
# tree takes several times the text's size, and a whole file at once made memory
# grow with the file (measured in bench/RESULTS.md).
PIECE = 256 * 1024

# A piece ends just after a semicolon that ends its line: outside a literal or a
# comment that is always between two tokens, and usually between two statements.
_CUT = re.compile(r";[ \t\r]*\n")


def _split_postgresql(text: str) -> list[Statement]:
    """pglast's split of the whole text, done piece by piece.

    A piece is kept only if the parser takes it whole and its last statement ends
    in a semicolon, so the cut lies between two statements and every piece parses
    as it does within the file. Otherwise (the cut fell in a literal, a comment,
    a ``$$`` or ``BEGIN ATOMIC`` body, or a statement without its semicolon) the
    piece ends at an earlier cut or a later one. A syntax error is reported from
    a parse that runs from a statement's start to the end of the file, so its
    message and position are those of parsing the whole file.
    """
    # Imported here: only planning a PostgreSQL run needs the parser, and status
    # (which must start fast) never does.
    from pglast import parser as pg_parser

    statements: list[Statement] = []
    lines = _Lines(text)
    start = 0
    while start < len(text):
        size, after = PIECE, start  # every cut tried next lies beyond `after`
        end = _next_end(text, after, start + size)
        while True:
            piece = text[start:end]
            try:
                # with_parser=True: the scanner-only mode silently drops statements it
                # does not know (see docs/design.md, Files).
                slices = pg_parser.split(piece, with_parser=True, only_slices=True)
            except pg_parser.ParseError as exc:
                message, index = exc.args[0], exc.args[1] if len(exc.args) > 1 else None
                if end == len(text):
                    at = len(text) if index is None else start + index
                    raise SqlSyntaxError(lines.at(at), message) from exc
                # An error inside the piece: cut before it if there is a cut to try.
                earlier = None if index is None else _cut_before(text, after, start + index)
                if earlier is not None and earlier < end:
                    end = earlier
                    continue
            else:
                if end == len(text) or _ends_in_semicolon(pg_parser, piece, slices):
                    break
            size *= 2
            after = end
            end = _next_end(text, after, start + size)
        for found in slices:
            first = start + found.start
            statements.append(Statement(sql=piece[found], line=lines.at(first)))
        start = end
    return statements


def _next_end(text: str, after: int, target: int) -> int:
    """The last cut beyond ``after`` before ``target``, else the first one after both."""
    return _cut_before(text, after, target) or _cut_from(text, max(after, target))


def _cut_before(text: str, after: int, before: int) -> int | None:
    """The last cut that ends beyond ``after`` and starts before ``before``."""
    if before >= len(text):
        return len(text)
    while (semicolon := text.rfind(";", after, before)) != -1:
        if cut := _CUT.match(text, semicolon):
            return cut.end()
        before = semicolon
    return None


def _cut_from(text: str, index: int) -> int:
    """The first cut starting at or after ``index``, else the end of the text."""
    cut = _CUT.search(text, index)
    return cut.end() if cut else len(text)


def _ends_in_semicolon(pg_parser: Any, piece: str, slices: Sequence[slice]) -> bool:
    """Whether a semicolon token (not one in a comment) follows the piece's last statement."""
    if not slices:
        return True  # only comments and semicolons: a cut after a newline is between tokens
    rest = piece[slices[-1].stop :]
    return any(token.name == "ASCII_59" for token in pg_parser.scan(rest))


# SQLite -------------------------------------------------------------------------

# sqlite3_complete()'s tokens and states (SQLite's complete.c): a statement ends at
# a semicolon, except inside CREATE TRIGGER, which ends at "; END ;".
_SEMI, _WS, _OTHER, _EXPLAIN, _CREATE, _TEMP, _TRIGGER, _END = range(8)
_INVALID, _START, _NORMAL, _EXPLAINED, _CREATED, _IN_TRIGGER, _TRIGGER_SEMI, _TRIGGER_END = range(8)
_TRANSITIONS = (
    # SEMI WS OTHER EXPLAIN CREATE TEMP TRIGGER END
    (1, 0, 2, 3, 4, 2, 2, 2),  # INVALID: nothing but blanks and comments yet
    (1, 1, 2, 3, 4, 2, 2, 2),  # START
    (1, 2, 2, 2, 2, 2, 2, 2),  # NORMAL: ends at the next semicolon
    (1, 3, 3, 2, 4, 2, 2, 2),  # EXPLAIN seen
    (1, 4, 2, 2, 2, 4, 5, 2),  # CREATE [TEMP] seen
    (6, 5, 5, 5, 5, 5, 5, 5),  # inside a trigger
    (6, 6, 5, 5, 5, 5, 5, 7),  # ";" inside a trigger
    (1, 7, 5, 5, 5, 5, 5, 5),  # "; END" inside a trigger
)
_KEYWORDS = {
    "explain": _EXPLAIN,
    "create": _CREATE,
    "temp": _TEMP,
    "temporary": _TEMP,
    "trigger": _TRIGGER,
    "end": _END,
}
# What sqlite3_complete() skips over as one token; the next semicolon outside them ends
# a statement in the NORMAL and trigger states.
_SPECIAL = re.compile(r"[;'\"`\[]|--|/\*")
_CLOSE = {"'": "'", '"': '"', "`": "`", "[": "]", "--": "\n", "/*": "*/"}
_IDENTIFIER = re.compile(r"[A-Za-z0-9_$\u0080-\U0010ffff]+")
_BLANKS = re.compile(r"[ \t\n\f\r]+")


def _split_sqlite(text: str) -> list[Statement]:
    """Where sqlite3_complete() would say a statement ends, found in one pass.

    Calling it on the text so far at every semicolon made a file with many
    semicolons in one statement (in literals, or a trigger's body) quadratic.
    """
    statements: list[Statement] = []
    lines = _Lines(text)
    start = pos = 0
    state = _INVALID
    while pos < len(text):
        if state in (_NORMAL, _IN_TRIGGER):
            # Only a semicolon changes these states: jump from one to the next.
            semicolon = _next_semicolon(text, pos)
            if semicolon == -1:
                break
            token, pos = _SEMI, semicolon + 1
        else:
            token, pos = _token(text, pos)
        state = _TRANSITIONS[state][token]
        if state == _START:
            _append(statements, lines, text, start, pos)
            start, state = pos, _INVALID
    _append(statements, lines, text, start, len(text))
    return statements


def _next_semicolon(text: str, pos: int) -> int:
    """The next semicolon outside literals, quoted names and comments, or -1."""
    while found := _SPECIAL.search(text, pos):
        if found.group() == ";":
            return found.start()
        close = _CLOSE[found.group()]
        end = text.find(close, found.end())
        if end == -1:
            return -1  # unterminated: the rest of the text is one token
        pos = end + len(close)
    return -1


def _token(text: str, pos: int) -> tuple[int, int]:
    """sqlite3_complete()'s token at ``pos`` and where the next one starts."""
    char = text[pos]
    if char == ";":
        return _SEMI, pos + 1
    if blanks := _BLANKS.match(text, pos):
        return _WS, blanks.end()
    opener = text[pos : pos + 2] if char in "-/" else char
    if opener in _CLOSE:
        close = _CLOSE[opener]
        end = text.find(close, pos + len(opener))
        if end == -1:
            return _WS, len(text)  # unterminated: nothing ends after it
        kind = _WS if opener in ("--", "/*") else _OTHER
        return kind, end + len(close)
    if word := _IDENTIFIER.match(text, pos):
        return _KEYWORDS.get(word.group().lower(), _OTHER), word.end()
    return _OTHER, pos + 1


def _append(statements: list[Statement], lines: _Lines, text: str, start: int, end: int) -> None:
    first = _skip_blanks_and_comments(text, start, end)
    body = text[first:end].rstrip()
    if body.rstrip(";").strip():
        statements.append(Statement(sql=body, line=lines.at(first)))


def _skip_blanks_and_comments(text: str, pos: int, end: int) -> int:
    """Index of the first real token, so errors point at it, not at a comment above."""
    while pos < end:
        if text[pos].isspace():
            pos += 1
        elif text.startswith("--", pos):
            newline = text.find("\n", pos, end)
            pos = end if newline == -1 else newline + 1
        elif text.startswith("/*", pos):
            close = text.find("*/", pos + 2, end)
            pos = end if close == -1 else close + 2
        else:
            break
    return pos
