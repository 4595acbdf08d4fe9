"""PostgreSQL session state: what a run began with, and how it is put back.

A plain SET (search_path, role, timeouts, DateStyle, a custom ``myapp.x``) lasts
for the rest of a session, so without a reset the same files would give another
schema depending on how runs are split. The state is noted once per run, after
Django's own connection set-up (time zone, ``assume_role``), and put back at the
end of every migration by statements of its own message, before its history
row. RESET ALL restores what the server, database, role and connection string
set; what was SET after connecting is set again by name; the role, which RESET
ALL leaves alone, explicitly. DISCARD ALL would also release the run's advisory
lock, so temporary tables and prepared statements are dropped one kind at a time.

standard_conforming_strings decides where a string literal ends. pglast always
reads files with it on, and the server reads a whole message with the value in
force when the message arrives: the runner keeps it on for every message it
sends, and refuses files that would turn it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from sqlmigrations.sql import Statement
from sqlmigrations.vendors.pg_driver import sql_module

STRINGS = "standard_conforming_strings"
STRINGS_ON = f"SET {STRINGS} = on"


@dataclass(frozen=True)
class SessionState:
    """The session a run began with, to be put back after every migration."""

    session_user: str
    role: str  # current_setting('role'): 'none' unless SET ROLE (or assume_role) ran
    settings: tuple[tuple[str, str], ...]  # SET after connecting: RESET ALL would lose them
    temp_tables: bool  # the connection had temporary tables of its own already
    prepared: tuple[str, ...]  # statements it had PREPAREd already
    strings_setting: str  # puts back the strings setting when the run ends

    def restore_statements(self, conn: Any, *, prepares: bool) -> list[str]:
        """``prepares``: the migration PREPAREs statements, which are deallocated too."""
        sql = sql_module()

        def identifier(name: str) -> str:
            return str(sql.Identifier(name).as_string(conn))

        statements = ["RESET ALL", f"SET SESSION AUTHORIZATION {identifier(self.session_user)}"]
        if self.settings:
            values = sql.SQL(", ").join(
                sql.SQL("({}, {})").format(sql.Literal(name), sql.Literal(value))
                for name, value in self.settings
            )
            # set_config() reads a value as the configuration file would: a list
            # such as search_path stays a list.
            query = "SELECT pg_catalog.set_config(n, v, false) FROM (VALUES {}) AS s(n, v)"
            statements.append(sql.SQL(query).format(values).as_string(conn))
        statements.append(STRINGS_ON)
        statements.append(f"SET ROLE {'NONE' if self.role == 'none' else identifier(self.role)}")
        if not self.temp_tables:
            # Else a later migration's unqualified name could find one before the real table.
            statements.append("DISCARD TEMP")
        if prepares:
            kept = sql.SQL(", ").join(sql.Literal(name) for name in ("", *self.prepared))
            query = (
                "DO $sqlmigrations$ DECLARE n text; BEGIN FOR n IN SELECT name FROM "
                "pg_catalog.pg_prepared_statements WHERE from_sql AND name NOT IN ({}) "
                "LOOP EXECUTE pg_catalog.format('DEALLOCATE %I', n); END LOOP; END "
                "$sqlmigrations$"
            )
            statements.append(sql.SQL(query).format(kept).as_string(conn))
        return statements


def capture_session(connection: BaseDatabaseWrapper) -> SessionState:
    """Note the session as the run finds it, and turn the strings setting on.

    SET (rather than trusting the server's default) makes the setting the
    session's own, which a configuration reload cannot change under the run.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT session_user, current_setting('role'), "
            "EXISTS (SELECT FROM pg_catalog.pg_class WHERE relnamespace = pg_my_temp_schema()), "
            "ARRAY(SELECT name FROM pg_catalog.pg_prepared_statements WHERE from_sql), "
            "(SELECT setting FROM pg_catalog.pg_settings WHERE name = %s), "
            "(SELECT source FROM pg_catalog.pg_settings WHERE name = %s)",
            [STRINGS, STRINGS],
        )
        session_user, role, temp_tables, prepared, strings, strings_source = cursor.fetchone()
        # transaction_isolation and the like belong to a caller's transaction, and
        # RESET ALL leaves them alone.
        cursor.execute(
            "SELECT name, setting FROM pg_catalog.pg_settings WHERE source = 'session' "
            "AND name <> %s AND left(name, 12) <> 'transaction_' ORDER BY name",
            [STRINGS],
        )
        settings = tuple((name, value) for name, value in cursor.fetchall())
        cursor.execute(STRINGS_ON)
    if strings_source == "session":
        strings_setting = f"SET {STRINGS} = {'on' if strings == 'on' else 'off'}"
    else:
        strings_setting = f"RESET {STRINGS}"
    return SessionState(session_user, role, settings, temp_tables, tuple(prepared), strings_setting)


def turns_strings_off(statement: Statement) -> bool:
    """True if the statement may turn standard_conforming_strings off in this session:
    a SET to anything but on, a RESET (to what the role or database says), or a
    set_config() of it not plainly to on.

    Run statement by statement, the rest of the file would be read otherwise than
    it was split; in one message, otherwise than psql runs it. pg_dump's own
    ``SET standard_conforming_strings = on`` is fine. ALTER ROLE, DATABASE or
    FUNCTION ... SET change other sessions and are fine too; a change hidden in a
    function body is undone before the next message (before_message).
    """
    if STRINGS not in statement.sql.lower():
        return False
    from pglast import ast
    from pglast import parser as pg_parser
    from pglast.enums.parsenodes import VariableSetKind
    from pglast.visitors import Visitor

    node = pg_parser.parse_sql(statement.sql)[0].stmt
    if isinstance(node, ast.VariableSetStmt):
        if (node.name or "").lower() != STRINGS:
            return False
        values = node.args or ()
        return not (
            node.kind == VariableSetKind.VAR_SET_VALUE and len(values) == 1 and _is_on(values[0])
        )

    class SetConfigCalls(Visitor):
        found = False

        def visit_FuncCall(self, ancestors: object, call: ast.FuncCall) -> None:
            name = call.funcname[-1].sval if call.funcname else None
            args = call.args or ()
            if (
                name == "set_config"
                and len(args) == 3
                and isinstance(args[0], ast.A_Const)
                and isinstance(args[0].val, ast.String)
                and (args[0].val.sval or "").lower() == STRINGS
                and not _is_on(args[1])
            ):
                self.found = True

    calls = SetConfigCalls()
    calls(node)  # type: ignore[arg-type]
    return calls.found


def _is_on(value: object) -> bool:
    """A constant the server reads as boolean true (its parse_bool)."""
    from pglast import ast

    if not isinstance(value, ast.A_Const):
        return False
    if isinstance(value.val, ast.Integer):
        return value.val.ival == 1
    if not isinstance(value.val, ast.String):
        return False
    text = (value.val.sval or "").strip().lower()
    return text in ("on", "1") or (
        text != "" and ("true".startswith(text) or "yes".startswith(text))
    )
