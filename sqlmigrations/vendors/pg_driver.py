"""The PostgreSQL driver the project chose: psycopg 3 or psycopg2.

Django's backend takes psycopg 3 when it is installed and psycopg2 otherwise; the
app installs neither and follows Django's choice (``connection.Database``). What
the two drivers spell differently is answered here, so the rest of the vendor
asks one question once. Only psycopg 3 exposes libpq's result loop, which the
one-round-trip path (batch.py) needs; under psycopg2 a migration runs statement
by statement in its transaction instead.
"""

from __future__ import annotations

import io
import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from sqlmigrations.errors import ConfigurationError

INSTALL = "pip install 'sqlmigrations[postgresql]'"


def require_parser() -> None:
    """pglast splits PostgreSQL files; without it nothing can be planned, so say how
    to install it before anything connects."""
    try:
        import pglast  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "PostgreSQL migrations need pglast (the server's own SQL parser), which is "
            f"not installed: {INSTALL}"
        ) from None


def is_psycopg3(connection: BaseDatabaseWrapper) -> bool:
    return bool(connection.Database.__name__ == "psycopg")  # type: ignore[attr-defined]


def sql_module() -> Any:
    """psycopg's ``sql`` (Identifier, Literal, SQL): the same API in both drivers."""
    from django.db.backends.postgresql.psycopg_any import sql

    return sql


def sqlstate(error: BaseException | None) -> str | None:
    """The server's SQLSTATE: psycopg 3 says ``sqlstate``, psycopg2 ``pgcode``."""
    return getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)


def parameter_status(conn: Any, name: str) -> str | None:
    """A setting the server reports on each change (GUC_REPORT), known without asking."""
    if hasattr(conn, "pgconn"):  # psycopg 3
        value = conn.pgconn.parameter_status(name.encode())
        return value.decode() if value is not None else None
    return conn.get_parameter_status(name)  # type: ignore[no-any-return]


def in_transaction(conn: Any) -> bool:
    """libpq's PQtransactionStatus is not PQTRANS_IDLE (0), in either driver's spelling."""
    return bool(conn.info.transaction_status != 0)


def connect(database: Any, params: dict[str, Any]) -> Any:
    """A second autocommit connection with Django's connection parameters."""
    if database.__name__ == "psycopg":
        return database.connect(**params, autocommit=True)
    conn = database.connect(**params)
    conn.autocommit = True
    return conn


@contextmanager
def interruptible(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Ctrl-C cancels a running statement, as psycopg 3 does, and the connection lives on.

    psycopg2 waits inside libpq, where Python's signal handler cannot run, so a
    long statement held Ctrl-C until it ended. Its documented remedy is a wait
    callback (process-wide, so only for a run, and never over the project's own,
    such as gevent's). The callback must not raise (psycopg2 would close the
    connection, and the run's clean-up needs it): it cancels the statement and
    notes the interruption, and the statement's own error (query_canceled), or
    the next one's start, raises KeyboardInterrupt instead.
    """
    if is_psycopg3(connection):
        yield
        return
    from psycopg2 import extensions

    if extensions.get_wait_callback() is not None:
        yield
        return
    _interrupted.clear()
    extensions.set_wait_callback(_wait_cancelling)
    try:
        with connection.execute_wrapper(_raise_interruption):
            yield
            _raise_if_interrupted()  # during the last COMMIT, which a cancel cannot stop
    finally:
        extensions.set_wait_callback(None)
        _interrupted.clear()


# Set by the wait callback when Ctrl-C came while psycopg2 waited (signals only
# reach the main thread, the one running migrations).
_interrupted: list[KeyboardInterrupt] = []


def _wait_cancelling(conn: Any) -> None:
    from psycopg2 import extensions

    while True:
        try:
            state = conn.poll()
            if state == extensions.POLL_OK:
                return
            if state == extensions.POLL_READ:
                select.select([conn.fileno()], [], [])
            elif state == extensions.POLL_WRITE:
                select.select([], [conn.fileno()], [])
        except KeyboardInterrupt as exc:
            conn.cancel()  # then read the server's answer to it
            _interrupted.append(exc)


def _raise_interruption(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    _raise_if_interrupted()
    try:
        result = execute(sql, params, many, context)
    except Exception:
        _raise_if_interrupted()
        raise
    _raise_if_interrupted()
    return result


@contextmanager
def interruption_first() -> Iterator[None]:
    """Around what ends outside execute() (COMMIT): the error that Ctrl-C's cancel
    caused there (a deferred trigger's query_canceled) is the interruption."""
    try:
        yield
    except Exception:
        _raise_if_interrupted()
        raise


def _raise_if_interrupted() -> None:
    if _interrupted:
        interruption = _interrupted[0]
        _interrupted.clear()
        raise interruption


def copy_without_wait_callback(cursor: Any, sql: str, *, from_stdin: bool) -> None:
    """COPY FROM STDIN or TO STDOUT under psycopg2, whose copy_expert() refuses to
    run while a wait callback (interruptible's) is set: it is lifted for the COPY,
    so Ctrl-C there is raised when the COPY ends. A migration file has no rows to
    send: FROM STDIN fails, as under psycopg 3; TO STDOUT's rows are dropped."""
    from psycopg2 import extensions

    callback = extensions.get_wait_callback()
    extensions.set_wait_callback(None)
    try:
        cursor.copy_expert(sql, _NoRows() if from_stdin else _Discarded())
    finally:
        extensions.set_wait_callback(callback)


class _NoRows(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        # psycopg2 ends the COPY with this text: the server's error repeats it.
        raise NoRowsInMigrationFile("COPY FROM STDIN has no data in a migration file")


class NoRowsInMigrationFile(Exception):
    pass


class _Discarded(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


def unfollowed_encoding(conn: Any) -> str | None:
    """The client_encoding a statement SET, when the driver still encodes otherwise.

    psycopg 3 follows the server's report; psycopg2 keeps the encoding it connected
    with, so text sent after such a SET would be read as other characters (a table
    named in mojibake) rather than refused."""
    if hasattr(conn, "pgconn"):
        return None
    reported = conn.get_parameter_status("client_encoding")
    return str(reported) if reported and reported != conn.encoding else None


def is_connect_timeout(exc: BaseException) -> bool:
    """libpq's connect_timeout ran out (psycopg 3 has a class for it; psycopg2 says it)."""
    return type(exc).__name__ == "ConnectionTimeout" or "timeout expired" in str(exc)


def libpq_options(params: dict[str, Any]) -> dict[str, str]:
    """Django's connection parameters that are libpq keywords (not the driver's own
    ones such as cursor_factory), as strings."""
    try:
        from psycopg.pq import Conninfo

        keywords = {option.keyword.decode() for option in Conninfo.get_defaults()}
        return {
            key: str(value)
            for key, value in params.items()
            if key in keywords and value is not None
        }
    except ImportError:
        pass
    # psycopg2 has no list of libpq's keywords; its make_dsn() has libpq check each one.
    from psycopg2 import ProgrammingError
    from psycopg2.extensions import make_dsn

    options = {}
    for key, value in params.items():
        if value is None or not isinstance(value, str | int | float):
            continue
        try:
            make_dsn(**{key: str(value)})
        except ProgrammingError:
            continue
        options[key] = str(value)
    return options


def conninfo(options: dict[str, str]) -> str:
    """A libpq connection string of ``options``, each value quoted as libpq reads it."""
    try:
        from psycopg.conninfo import make_conninfo
    except ImportError:
        from psycopg2.extensions import make_dsn

        return str(make_dsn(**options))
    return make_conninfo("", **options)
