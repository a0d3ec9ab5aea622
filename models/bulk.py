"""Bulk inserts of many rows into one table, as fast as each engine allows.

Plain `insert_many` compiles every cell into its own SQL node, most of the cost of storing a large metrics
batch (docs/benchmarks.md). So:
- SQLite: peewee's `insert_many` statement for a chunk of CHUNK rows is compiled once per table, columns
  and size, and re-run with each chunk's values (converted by the fields' own `db_value`).
- PostgreSQL: `COPY ... FROM STDIN`, much faster than multi-row VALUES for large batches.
Either way it runs in the caller's transaction (or one of its own): all rows or none.

`upsert` writes rows that may already exist, in as few statements as the engine allows:
- SQLite: a multi-row `INSERT ... VALUES` of up to SQLITE_VARIABLES values with the `ON CONFLICT` clause after
  it, run once a chunk. (One `executemany` call a row gives up the interpreter lock on each row and waits to take
  it back, up to the switch interval when another thread, a poll reading ahead, holds it.)
- PostgreSQL: COPY into a temporary twin of the table, then one `INSERT ... SELECT ... ON CONFLICT`. Against a
  multi-row `INSERT ... VALUES` it skips quoting each row in the client (psycopg2's `mogrify`) and parsing
  thousands of literals in the server.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import peewee

from models.db import db, is_postgres

CHUNK = 1000  # 5 columns x 1000 rows stays far under SQLite's 32,766 bound parameters
SQLITE_VARIABLES = 32_766  # SQLite's bound parameters a statement (since 3.32)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def bulk_insert(fields: Sequence[peewee.Field], rows: Sequence[Sequence[Any]]) -> int:
    """Insert `rows`, each a tuple of Python values in the order of `fields` (all of one model)."""
    if not rows:
        return 0
    columns = tuple(fields)
    with db.atomic():
        if is_postgres():
            _copy(columns, rows)
        else:
            _chunks(columns, rows)
    return len(rows)


def _chunks(fields: tuple[peewee.Field, ...], rows: Sequence[Sequence[Any]]) -> None:
    values = list(zip(*_columns(fields, rows), strict=True))
    for start in range(0, len(values), CHUNK):
        part = values[start:start + CHUNK]
        statement = _statement(fields[0].model, tuple(field.name for field in fields), len(part))
        db.execute_sql(statement, [value for row in part for value in row])


def _columns(fields: tuple[peewee.Field, ...], rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """The rows' values converted by their fields (JSON to text, and so on), column by column."""
    columns = zip(*rows, strict=True)
    return [[field.db_value(value) for value in column] for field, column in zip(fields, columns, strict=True)]


@lru_cache(maxsize=16)  # full chunks hit it; the varying tails (platform metrics' flushes) must not grow it
def _statement(model: type[peewee.Model], names: tuple[str, ...], size: int) -> str:
    """peewee's own INSERT for `size` rows of the fields `names`; its parameters are replaced by each chunk's.
    (Keyed by names, not fields: peewee fields overload `==`, so they make poor cache keys.)"""
    fields = [model._meta.fields[name] for name in names]
    example = tuple(_example(field) for field in fields)
    query = model.insert_many([example] * size, fields=fields)
    sql, params = query.sql()
    assert len(params) == size * len(fields), "every value must be a bound parameter"
    return str(sql)


def _example(field: peewee.Field) -> Any:
    return 0 if isinstance(field, (peewee.IntegerField, peewee.FloatField)) else "x"


def upsert(fields: Sequence[peewee.Field], rows: Sequence[Sequence[Any]], conflict: str) -> None:
    """Insert `rows` (values in the order of `fields`, all of one model, already as the database takes them: ids,
    text, numbers, datetimes; no field converts them), doing what the `ON CONFLICT ...` clause `conflict` says
    where a row's key exists; in the caller's transaction. As in any one upsert statement, no two rows may share
    a conflict key."""
    if not rows:
        return
    if is_postgres():
        _copy_upsert(tuple(fields), rows, conflict)
        return
    size = SQLITE_VARIABLES // len(fields)
    for start in range(0, len(rows), size):
        part = rows[start:start + size]
        db.execute_sql(f"{_values_statement(tuple(fields), len(part))} {conflict}",
                       [value for row in part for value in row])


def _values_statement(fields: tuple[peewee.Field, ...], size: int) -> str:
    """`INSERT INTO t (columns) VALUES (?, ...), ...` for `size` rows, written directly: peewee builds a node per
    value, 0.15 s for a thousand rows of twelve, and a poll's batches come in many sizes."""
    names = ", ".join(f'"{field.column_name}"' for field in fields)
    row = "(" + ", ".join(["?"] * len(fields)) + ")"
    return f'INSERT INTO "{fields[0].model._meta.table_name}" ({names}) VALUES {", ".join([row] * size)}'  # noqa: S608


def _copy_upsert(fields: tuple[peewee.Field, ...], rows: Sequence[Sequence[Any]], conflict: str) -> None:
    """The staging table lives as long as the connection, so it is created once a connection; the upsert takes
    the rows out of it as it reads them (`DELETE ... RETURNING`), and a commit empties it anyway (`ON COMMIT
    DELETE ROWS`, which also gives back the space the deleted rows held: nothing vacuums a temporary table)."""
    table = fields[0].model._meta.table_name
    staging = f"{table}_staging"
    names = ", ".join(f'"{field.column_name}"' for field in fields)
    texts = [_copy_column(list(column), numeric=False, memo=False) for column in zip(*rows, strict=True)]
    lines = io.StringIO()
    lines.writelines(line + "\n" for line in map("\t".join, zip(*texts, strict=True)))
    lines.seek(0)
    cursor = db.cursor()
    cursor.execute(f'CREATE TEMPORARY TABLE IF NOT EXISTS "{staging}" (LIKE "{table}" INCLUDING DEFAULTS) '
                   "ON COMMIT DELETE ROWS")
    cursor.copy_expert(f'COPY "{staging}" ({names}) FROM STDIN', lines)
    cursor.execute(f'WITH taken AS (DELETE FROM "{staging}" RETURNING {names}) '  # noqa: S608 (names from the model)
                   f'INSERT INTO "{table}" ({names}) SELECT {names} FROM taken {conflict}')


def _copy(fields: tuple[peewee.Field, ...], rows: Sequence[Sequence[Any]]) -> None:
    """COPY in PostgreSQL's text format: tab-separated, `\\N` for NULL, backslash escapes."""
    columns = [_copy_column(column, isinstance(field, (peewee.IntegerField, peewee.FloatField)))
               for field, column in zip(fields, _columns(fields, rows), strict=True)]
    lines = io.StringIO()
    lines.writelines(line + "\n" for line in map("\t".join, zip(*columns, strict=True)))
    lines.seek(0)
    table = fields[0].model._meta.table_name
    names = ", ".join(f'"{field.column_name}"' for field in fields)
    db.cursor().copy_expert(f'COPY "{table}" ({names}) FROM STDIN', lines)


def _copy_column(values: list[Any], numeric: bool, memo: bool = True) -> list[str]:
    """One column as COPY text. Names, units, tags and timestamps repeat within a metrics batch, so their text is
    made once per distinct value (`memo`); numbers rarely do, nor do a batch of commits' shas and messages."""
    if numeric:
        return ["\\N" if value is None else str(value) for value in values]
    if not memo:
        return ["\\N" if value is None else value.translate(_COPY_ESCAPES) if isinstance(value, str) else str(value)
                for value in values]
    known: dict[tuple[type, Any], str] = {}  # keyed with the type: 1, 1.0 and True are equal as keys
    texts = []
    for value in values:
        key = (value.__class__, value)
        text = known.get(key)
        if text is None:
            text = known[key] = "\\N" if value is None else (
                value.translate(_COPY_ESCAPES) if isinstance(value, str) else str(value))
        texts.append(text)
    return texts
