"""PostgreSQL: one round trip per migration.

A migration's statements and its history row go to the server as one
simple-query message, between a BEGIN and a COMMIT of its own. At the first
error the server skips the rest of the message, COMMIT included, so rule 2 of
docs/design.md holds; it answers with one result per statement up to the one that
failed, which names the failing statement exactly without running anything
twice.

Measured in bench/RESULTS.md: the round trips of one statement at a time, plus
BEGIN and COMMIT, were most of the runner's time that is not the server's work.

Statements still run one after another, split by pglast, and statement_timeout
restarts for each statement of such a message (PostgreSQL 13 and later; Django
5.2 needs 14).

The message goes through psycopg 3's connection, not a Django cursor: Django's
execute_wrapper() hooks and DEBUG query log do not see it (the
``sqlmigrations`` logger and signals still report every migration).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from sqlmigrations.vendors.pg_driver import is_psycopg3

# A statement's text may end in a -- comment: the semicolon goes on its own line.
SEPARATOR = "\n;\n"


class BatchFailed(Exception):
    """Statement ``index`` (0-based, in the order given) failed; nothing was committed."""

    def __init__(self, index: int, offset: int, error: Exception):
        self.index = index
        self.offset = offset  # where that statement starts in the message sent
        self.error = error
        super().__init__(str(error))


def can_batch(connection: BaseDatabaseWrapper) -> bool:
    """Only outside any transaction (inside the caller's, the message's COMMIT would end
    it), and only with psycopg 3: psycopg2 hands back the last result of a message, not
    each one, so the failing statement could not be named."""
    return (
        connection.vendor == "postgresql"
        and is_psycopg3(connection)
        and connection.get_autocommit()
        and not connection.in_atomic_block
    )


def run_batch(
    connection: BaseDatabaseWrapper, statements: Sequence[str], setup: Sequence[str] = ()
) -> str | None:
    """Run ``statements`` as one transaction in one round trip; raise BatchFailed on error.

    Returns the first value the last statement returned (the history row's RETURNING),
    as text, or None.

    ``setup`` runs first in the same transaction (the runner's SET LOCAL); a
    failure there is reported with a negative index.

    Errors of the connection itself (lost, cancelled by Ctrl-C) are raised as
    Django's database errors, as a cursor would raise them.
    """
    # Imported here, like Django's PostgreSQL backend does: only PostgreSQL runs need it.
    from psycopg import errors, pq

    # An explicit block rather than the message's implicit one, which refuses SAVEPOINT.
    pieces = ["BEGIN", *setup, *statements, "COMMIT"]
    connection.ensure_connection()
    conn = connection.connection
    encoding = conn.info.encoding
    with connection.wrap_database_errors:
        try:
            with conn.lock:
                # The encoded message is a temporary: libpq keeps its own copy until
                # sent, and ours is freed as soon as send_query() returns.
                conn.pgconn.send_query(SEPARATOR.join(pieces).encode(encoding))
                failed, last = _receive(conn, len(pieces) - 2)
        finally:
            # After a failure or Ctrl-C the block is still open (and aborted): the
            # server skipped the rest of the message, COMMIT included.
            status = conn.pgconn.transaction_status
            if status in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR):
                conn.execute("ROLLBACK")
    if failed is not None:
        index, result = failed
        error = errors.error_from_result(result, encoding=encoding)
        # BEGIN and the setup came first. A failed COMMIT (a deferred constraint)
        # is reported as index len(statements).
        offset = sum(map(len, pieces[:index])) + len(SEPARATOR) * index  # pieces[index]'s start
        raise BatchFailed(index - 1 - len(setup), offset, error)
    return last


def _receive(conn: Any, wanted: int) -> tuple[tuple[int, Any] | None, str | None]:
    """The index and result of the statement that failed, or None if none did; and the
    first value statement ``wanted`` returned, as text (None if it returned no row).

    Results are read one at a time and dropped: a file of 500,000 statements has
    as many results, and they were all kept until the last had arrived.
    """
    from psycopg import DatabaseError, pq
    from psycopg.generators import fetch, send  # what Cursor.execute() itself runs

    pgconn = conn.pgconn
    failed = None
    value = None
    try:
        # Connection.wait() is what cancels the query on Ctrl-C.
        conn.wait(send(pgconn))
        index = 0
        while True:
            try:
                result = conn.wait(fetch(pgconn))
            except DatabaseError:
                # The server may close the session right after its error (it was
                # terminated): that error is the outcome.
                if failed is not None:
                    return failed, None
                raise
            if result is None:
                return failed, value
            status = result.status
            if status == pq.ExecStatus.COPY_IN:
                # A migration has no rows to send: failing the COPY fails the block.
                pgconn.put_copy_end(b"COPY FROM STDIN has no data in a migration file")
                conn.wait(send(pgconn))
                continue  # the COPY's own outcome follows and stands for its statement
            if status == pq.ExecStatus.COPY_OUT:
                while pgconn.get_copy_data(0)[0] > 0:  # output nobody reads
                    pass
                continue
            if status == pq.ExecStatus.FATAL_ERROR and failed is None:
                failed = (index, result)
            elif index == wanted and status == pq.ExecStatus.TUPLES_OK and result.ntuples:
                raw = result.get_value(0, 0)
                value = None if raw is None else bytes(raw).decode()
            index += 1
    except BaseException:
        # Interrupted between two waits (where a long message spends most of its
        # time): Connection.wait() did not cancel the message, so cancel it and read
        # what is left, for the ROLLBACK that follows. If the cancel fails, the
        # session stays busy and the original error is raised all the same.
        if pgconn.transaction_status == pq.TransactionStatus.ACTIVE:
            with contextlib.suppress(Exception):
                conn.cancel_safe(timeout=5.0)
                while conn.wait(fetch(pgconn)) is not None:
                    pass
        raise
