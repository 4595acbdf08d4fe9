"""PostgreSQL: one round trip per migration.

A migration's statements and its history row go to the server as one
simple-query message, between a BEGIN and a COMMIT of its own. At the first
error the server skips the rest of the message, COMMIT included, so DESIGN
rule 2 holds; it answers with one result per statement up to the one that
failed, which names the failing statement exactly without running anything
twice.

Measured in bench/RESULTS.md: the round trips of one statement at a time, plus
BEGIN and COMMIT, were most of the runner's time that is not the server's work.

Statements still run one after another, split by pglast, and statement_timeout
restarts for each statement of such a message (PostgreSQL 13 and later; Django
5.2 needs 14).

The message goes through psycopg's connection, not a Django cursor: Django's
execute_wrapper() hooks and DEBUG query log do not see it (the
``sqlmigrations`` logger and signals still report every migration).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

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
    """Only outside any transaction: inside the caller's, the message's COMMIT would end it."""
    return (
        connection.vendor == "postgresql"
        and connection.get_autocommit()
        and not connection.in_atomic_block
    )


def run_batch(
    connection: BaseDatabaseWrapper, statements: Sequence[str], setup: Sequence[str] = ()
) -> None:
    """Run ``statements`` as one transaction in one round trip; raise BatchFailed on error.

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
            results = _send(conn, SEPARATOR.join(pieces).encode(encoding))
        finally:
            # After a failure or Ctrl-C the block is still open (and aborted): the
            # server skipped the rest of the message, COMMIT included.
            status = conn.pgconn.transaction_status
            if status in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR):
                conn.execute("ROLLBACK")
    for index, result in enumerate(results):
        if result.status == pq.ExecStatus.FATAL_ERROR:
            error = errors.error_from_result(result, encoding=encoding)
            # BEGIN and the setup came first. A failed COMMIT (a deferred
            # constraint) is reported as index len(statements).
            offset = len(SEPARATOR.join([*pieces[:index], ""]))  # where pieces[index] starts
            raise BatchFailed(index - 1 - len(setup), offset, error)


def _send(conn: Any, query: bytes) -> list[Any]:
    """One result per statement run, up to and including the one that failed."""
    from psycopg import pq
    from psycopg.generators import execute  # what Cursor.execute() itself runs

    with conn.lock:
        pgconn = conn.pgconn
        pgconn.send_query(query)
        results = []
        while True:
            # Connection.wait() is what cancels the query on Ctrl-C.
            results += conn.wait(execute(pgconn))
            last = results[-1].status if results else None
            if last not in (pq.ExecStatus.COPY_IN, pq.ExecStatus.COPY_OUT):
                return results
            # The COPY's own outcome (done, or failed) follows as the next result
            # and stands for its statement.
            results.pop()
            if last == pq.ExecStatus.COPY_IN:
                # A migration has no rows to send: failing the COPY fails the block.
                pgconn.put_copy_end(b"COPY FROM STDIN has no data in a migration file")
            else:
                while pgconn.get_copy_data(0)[0] > 0:  # output nobody reads
                    pass
