"""Split a migration file into statements, keeping the line each one starts on.

Each vendor's own lexer decides where a statement ends: pglast wraps the
PostgreSQL server's parser, ``sqlite3.complete_statement`` is SQLite's tokenizer.
Neither is fooled by semicolons inside literals, comments, ``$tag$`` bodies or
trigger bodies, which a hand-written splitter (or sqlparse) gets wrong.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Statement:
    sql: str
    line: int  # 1-based line of the statement's first token in its file


class SqlSyntaxError(Exception):
    def __init__(self, line: int, message: str):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


def split_statements(text: str, vendor: str) -> list[Statement]:
    if vendor == "postgresql":
        return _split_postgresql(text)
    return _split_sqlite(text)


def line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _split_postgresql(text: str) -> list[Statement]:
    # Imported here: only planning a PostgreSQL run needs the parser, and status
    # (which must start fast) never does.
    from pglast import parser as pg_parser

    try:
        # with_parser=True: the scanner-only mode silently drops statements it
        # does not know (see DESIGN.md).
        slices = pg_parser.split(text, with_parser=True, only_slices=True)
    except pg_parser.ParseError as exc:
        message, index = exc.args[0], exc.args[1] if len(exc.args) > 1 else 0
        raise SqlSyntaxError(line_of(text, index), message) from exc
    statements = []
    line, counted_to = 1, 0
    for piece in slices:
        line += text.count("\n", counted_to, piece.start)
        counted_to = piece.start
        statements.append(Statement(sql=text[piece], line=line))
    return statements


def _split_sqlite(text: str) -> list[Statement]:
    statements: list[Statement] = []
    start = 0
    search_from = 0
    while True:
        end = text.find(";", search_from)
        if end == -1:
            break
        search_from = end + 1
        if sqlite3.complete_statement(text[start : end + 1]):
            _append(statements, text, start, end + 1)
            start = end + 1
    _append(statements, text, start, len(text))
    return statements


def _append(statements: list[Statement], text: str, start: int, end: int) -> None:
    first = _skip_blanks_and_comments(text, start, end)
    body = text[first:end].rstrip()
    if body.rstrip(";").strip():
        statements.append(Statement(sql=body, line=line_of(text, first)))


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
