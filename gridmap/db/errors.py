"""Database errors as domain errors: the psycopg exceptions a request may meet, translated into the
classes of ``gridmap.errors`` (which the API maps to statuses), so no caller needs to know psycopg."""

from __future__ import annotations

import psycopg

from gridmap.errors import DatabaseUnavailable, GridmapError, InvalidInput, QueryTimeout

# The database exceptions ``translate`` turns into domain errors, most specific first (a cancelled query
# is an OperationalError too). Any other database exception is a bug: an internal error.
TRANSLATED: tuple[type[Exception], ...] = (psycopg.errors.QueryCanceled, psycopg.DataError, psycopg.OperationalError)


def translate(exc: BaseException) -> GridmapError | None:
    """The domain error a database exception stands for, or None for one that is not in TRANSLATED."""
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return QueryTimeout("the query took longer than the statement timeout; ask for less (a smaller batch or area)")
    if isinstance(exc, psycopg.DataError):
        # A backstop behind the input rules: a value the database cannot hold (a number out of its range,
        # text it refuses) is the caller's input, so invalid input and a rolled-back transaction.
        detail = getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc)
        return InvalidInput(f"a value cannot be stored: {detail}")
    if isinstance(exc, psycopg.OperationalError):
        return DatabaseUnavailable("the database connection failed; retry shortly")
    return None
