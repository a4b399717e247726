"""Set-based inserts for imports: one statement per few thousand rows instead of one per row.

A statement per row costs a round trip, and every statement fires the per-statement triggers (the
household totals' stale mark) again; at a million buildings that was most of an import's time."""

from __future__ import annotations

import psycopg
from psycopg import sql

CHUNK = 5000


def reserve_ids(conn: psycopg.Connection, table: str, n: int) -> list[int]:
    """``n`` fresh values of ``table``'s identity column ``id``, so rows can be linked before they are written."""
    if n <= 0:
        return []
    rows = conn.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", (table, n)
    ).fetchall()
    return [r[0] for r in rows]


def insert_rows(
    conn: psycopg.Connection,
    table: str,
    columns: dict[str, str],
    rows: list[tuple],
    expressions: dict[str, str] | None = None,
    given_ids: bool = False,
    on_conflict: str = "",
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``, which maps column → SQL type) as one
    ``INSERT … SELECT … FROM unnest(one array per column)`` per CHUNK rows.

    ``expressions`` replaces a column's value by SQL over ``u.<column>`` (e.g. WKB → geometry).
    ``given_ids``: the rows carry identity values (from ``reserve_ids``). Table and column names
    are constants of the caller, as is ``on_conflict`` (an ``ON CONFLICT …`` clause); names are quoted
    as identifiers all the same."""
    if not rows:
        return
    expressions = expressions or {}
    names = list(columns)
    values = [sql.SQL(expressions[n]) if n in expressions else sql.SQL("u.{}").format(sql.Identifier(n)) for n in names]
    template = (
        "INSERT INTO {table} ({cols}) {overriding} SELECT {values} FROM unnest({arrays}) AS u ({cols}) {conflict}"
    )
    query = sql.SQL(template).format(
        table=sql.Identifier(table),
        cols=sql.SQL(", ").join(map(sql.Identifier, names)),
        overriding=sql.SQL("OVERRIDING SYSTEM VALUE" if given_ids else ""),
        values=sql.SQL(", ").join(values),
        arrays=sql.SQL(", ").join(sql.SQL("%b::{}[]").format(sql.SQL(columns[n])) for n in names),
        conflict=sql.SQL(on_conflict),
    )
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        conn.execute(query, [list(column) for column in zip(*chunk, strict=True)])
