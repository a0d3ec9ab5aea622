"""The database binding: a peewee DatabaseProxy bound at start-up from DATABASE_URL."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import peewee
from playhouse import db_url

from core.stats import percentile

db = peewee.DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "synchronous": "normal",
}


def connect_database(url: str) -> peewee.Database:
    """Build the database for `url` and bind the proxy to it; opens no connection."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("sqlite:///"):
        # Pooled too: a request's connection goes back to the pool, so the next one skips the connect and
        # the pragmas (half of what an authenticated read cost). A file connection is cheap to keep,
        # so there is no cap (which would make the 65th of 256 API threads wait).
        # A pooled connection serves one thread at a time, but not always the thread that opened it.
        # Transactions take the write lock when they begin (IMMEDIATE): one that read first and then
        # wrote would otherwise fail at once with "database is locked" when another process had written
        # since its read, instead of waiting its turn (busy_timeout).
        database = db_url.connect("sqlite+pool://" + url[len("sqlite://"):], pragmas=SQLITE_PRAGMAS,
                                  max_connections=None, stale_timeout=300, check_same_thread=False,
                                  lock_type="IMMEDIATE")
    elif url.startswith("postgresql://"):
        database = db_url.connect(
            "postgresql+pool://" + url[len("postgresql://"):],
            max_connections=64, stale_timeout=300, timeout=10,
        )
    else:
        raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")
    if isinstance(database, peewee.SqliteDatabase):
        database.register_aggregate(PercentilesCont, "percentiles_cont", 2)
    database.execute_sql = _counted(database.execute_sql)
    db.initialize(database)
    return database


class PercentilesCont:
    """`percentiles_cont(value, fractions)` for SQLite, which has no `percentile_cont`: PostgreSQL's ordered-set
    aggregate over an array of fractions (`percentile_cont(ARRAY[...]) WITHIN GROUP (ORDER BY value)`, one sort
    for them all), interpolating between the closest ranks; nulls left out, null over none. `fractions` is their
    JSON list, and so is the answer (`models.sql.percentiles_of` writes it, `percentiles_read` reads it)."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fractions = "[]"

    def step(self, value: float | None, fractions: str) -> None:
        if value is not None:
            self.values.append(value)
        self.fractions = fractions

    def finalize(self) -> str | None:
        if not self.values:
            return None
        ordered = sorted(self.values)
        return json.dumps([percentile(ordered, q) for q in json.loads(self.fractions)])


class QueryStats:
    """Statements this process ran and the time they took (Prometheus reads them at scrape time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.seconds = 0.0

    def add(self, seconds: float) -> None:
        with self.lock:
            self.count += 1
            self.seconds += seconds

    def read(self) -> tuple[int, float]:
        with self.lock:
            return self.count, self.seconds


QUERIES = QueryStats()


def _counted(execute_sql: Any) -> Any:
    def execute(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute_sql(sql, params, *args, **kwargs)
        finally:
            QUERIES.add(time.perf_counter() - started)

    return execute


def is_postgres() -> bool:
    return isinstance(db.obj, peewee.PostgresqlDatabase)


def id_list(ids: list[int]) -> peewee.SQL:
    """`(1,2,3)` for `field << id_list(ids)`: ids written into the statement (they are integers, checked here),
    where peewee would build a parameter for each one by one, slower than the query it is part of."""
    return peewee.SQL("(" + ",".join(str(int(i)) for i in ids) + ")") if ids else peewee.SQL("(NULL)")


def tuples(query: Any) -> list[tuple[Any, ...]]:
    """A query's rows as tuples (typed: peewee's own `tuples()` is not)."""
    return list(query.tuples())


def raw_tuples(query: Any) -> list[tuple[Any, ...]]:
    """A query's rows as the driver reads them, for columns that are numbers already: peewee's conversion of each
    value was most of the time a figure over thousands of rows took."""
    return [tuple(row) for row in db.execute(query).fetchall()]


def reserve_ids(model: type[peewee.Model], count: int) -> list[int]:
    """`count` primary keys for rows of `model` to be inserted with them later in the same transaction, so that
    rows referring to them can be built before any is inserted. PostgreSQL: from the table's sequence (safe
    alongside other writers; unused ones are gaps). SQLite: the ones after the highest, which no other writer
    can take, since a transaction holds the write lock from its start (`lock_type="IMMEDIATE"`)."""
    if count <= 0:
        return []
    table = model._meta.table_name
    if is_postgres():
        cursor = db.execute_sql("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                                (f'"{table}"', count))
        return [int(row[0]) for row in cursor.fetchall()]
    top = int(db.execute_sql(f'SELECT COALESCE(MAX("id"), 0) FROM "{table}"').fetchone()[0])  # noqa: S608
    return list(range(top + 1, top + 1 + count))


@contextmanager
def page_cache(kib: int) -> Iterator[None]:
    """On SQLite, let this connection cache up to `kib` KiB of pages while the block runs (the default is 2 MB),
    then give it back: writes scattered over large indexes (a backfill's) read and rewrite far more pages than
    that. Not set for every connection: an API process may hold hundreds. Nothing on PostgreSQL."""
    if is_postgres():
        yield
        return
    previous = db.execute_sql("PRAGMA cache_size").fetchone()[0]
    db.execute_sql(f"PRAGMA cache_size = {-int(kib)}")
    try:
        yield
    finally:
        db.execute_sql(f"PRAGMA cache_size = {int(previous)}")


def utc_naive() -> datetime:
    """Rows keep naive UTC datetimes, which both SQLite and PostgreSQL store without surprises."""
    return datetime.now(UTC).replace(tzinfo=None)


_CANONICAL = json.JSONEncoder(separators=(",", ":"), sort_keys=True)  # built once: json.dumps builds one a call


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, ASCII."""
    return _CANONICAL.encode(value)


class JSONField(peewee.TextField):
    """JSON kept as text (canonical), portable across SQLite and PostgreSQL."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else canonical_json(value)

    def python_value(self, value: Any) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(peewee.Model):
    class Meta:
        database = db
        legacy_table_names = False
