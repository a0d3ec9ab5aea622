"""Bulk inserts of many rows into one table, as fast as each engine allows.

Plain `insert_many` compiles every cell into its own SQL node, most of the cost of storing a large metrics
batch (docs/benchmarks.md). So:
- SQLite: peewee's `insert_many` statement for a chunk of CHUNK rows is compiled once per table, columns
  and size, and re-run with each chunk's values (converted by the fields' own `db_value`).
- PostgreSQL: `COPY ... FROM STDIN`, much faster than multi-row VALUES for large batches.
Either way it runs in the caller's transaction (or one of its own): all rows or none.
"""
from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import peewee

from models.db import db, is_postgres

CHUNK = 1000  # 5 columns x 1000 rows stays far under SQLite's 32,766 bound parameters
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


def _copy_column(values: list[Any], numeric: bool) -> list[str]:
    """One column as COPY text. Names, units, tags and timestamps repeat within a batch, so their text is
    made once per distinct value; numbers rarely do."""
    if numeric:
        return ["\\N" if value is None else str(value) for value in values]
    memo: dict[tuple[type, Any], str] = {}  # keyed with the type: 1, 1.0 and True are equal as keys
    texts = []
    for value in values:
        key = (value.__class__, value)
        text = memo.get(key)
        if text is None:
            text = memo[key] = "\\N" if value is None else (
                value.translate(_COPY_ESCAPES) if isinstance(value, str) else str(value))
        texts.append(text)
    return texts
